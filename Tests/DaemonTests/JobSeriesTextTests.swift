import Testing

@testable import Daemon

/// The hand-written per-job exposition (`JobSeriesText`): the format Prometheus parses, label values escaped as
/// the text format 0.0.4 says (a user's command or label cannot end a label or start a line).
struct JobSeriesTextTests {
    @Test func familiesAndEscapedSamples() {
        var text = JobSeriesText()
        text.family("sustain_job_energy_joules_total", type: "counter", help: "Counted energy")
        text.sample(
            "sustain_job_energy_joules_total", labels: [("job", "j1"), ("user", "a\"b\\c\nd")], value: 12.5)
        text.sample("sustain_job_energy_joules_total", labels: [("job", "j2")], value: .nan)
        #expect(
            String(decoding: text.bytes, as: UTF8.self) == """
                # HELP sustain_job_energy_joules_total Counted energy
                # TYPE sustain_job_energy_joules_total counter
                sustain_job_energy_joules_total{job="j1",user="a\\"b\\\\c\\nd"} 12.5
                sustain_job_energy_joules_total{job="j2"} NaN

                """)
    }
}
