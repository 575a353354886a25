import Glibc
import Testing

@testable import SustainCore

/// The report's timestamps, against known instants (and glibc's gmtime for many more).
struct UTCTimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"), (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_795_960_530_488, "2026-11-29T13:55:30.488Z"), (-1, "1969-12-31T23:59:59.999Z"),
        (4_102_444_799_999, "2099-12-31T23:59:59.999Z"), (253_402_300_799_000, "9999-12-31T23:59:59.000Z"),
    ])
    func knownInstants(milliseconds: Int64, expected: String) {
        #expect(UTCTimestamp.string(millisecondsSince1970: milliseconds) == expected)
    }

    @Test func agreesWithGmtimeEveryFewDaysFor300Years() {
        var seconds: Int = -2_208_988_800  // 1900
        while seconds < 7_258_118_400 {  // 2200
            var time = seconds
            var parts = tm()
            gmtime_r(&time, &parts)
            let (year, month, day) = UTCTimestamp.civil(fromDays: Int64(seconds / 86_400))
            #expect(
                year == Int64(parts.tm_year) + 1900 && month == Int64(parts.tm_mon) + 1 && day == Int64(parts.tm_mday))
            seconds += 86_400 * 3 + 3_600
            seconds -= seconds % 86_400
        }
    }

    /// Each provider's way of writing an instant, parsed to the same second.
    @Test(arguments: [
        ("2026-11-29T14:00Z", 1_795_960_800.0),  // Carbon Intensity API: no seconds
        ("2026-11-29T14:00:00", 1_795_960_800),  // Energi Data Service Minutes5UTC: no zone, UTC
        ("2026-11-29T14:00:00.000Z", 1_795_960_800),  // Electricity Maps
        ("2026-11-29T15:00:00+01:00", 1_795_960_800),  // WattTime, offsets
        ("2026-11-29T13:30:00-00:30", 1_795_960_800), ("2026-11-29 14:00:00Z", 1_795_960_800),
        ("2026-11-29T14:00:00.25Z", 1_795_960_800.25), ("2000-02-29T00:00Z", 951_782_400),
    ])
    func parsesWhatGridServicesWrite(text: String, seconds: Double) {
        #expect(UTCTimestamp.seconds(parsing: text) == seconds, "\(text)")
    }

    @Test(arguments: [
        "", "2026-11-29", "2026-02-30T00:00Z", "2026-13-01T00:00Z", "2026-11-29T24:00Z", "2026-11-29T14:00Zjunk",
        "2026-11-29T14:00:00.Z", "26-11-29T14:00Z", "2026-11-29T14:00+1", "２０２６-11-29T14:00Z",
    ])
    func rejectsWhatIsNotAnInstant(text: String) {
        #expect(UTCTimestamp.seconds(parsing: text) == nil, "\(text)")
    }

    @Test func parsingInvertsFormattingForThreeHundredYears() {
        var milliseconds: Int64 = -2_208_988_800_000
        while milliseconds < 7_258_118_400_000 {
            let text = UTCTimestamp.string(millisecondsSince1970: milliseconds)
            let parsed = UTCTimestamp.seconds(parsing: text)
            #expect(parsed.map { abs($0 - Double(milliseconds) / 1000) < 1e-6 } == true, "\(text)")
            milliseconds += 86_400_000 * 5 + 3_600_123
        }
    }
}
