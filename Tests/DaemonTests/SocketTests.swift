import Foundation
import Reports
import SustainTestSupport
import Testing

/// The daemon for real: `sustain-measured` on a Unix socket inside the fake-sysfs namespace, used by an
/// unprivileged user's `sustain-measure` and by `curl --unix-socket` as two different users.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct SocketTests {
    /// Runs `script` (sh) inside the fake tree with the daemon listening on `$SOCK`; returns its stdout.
    static func withDaemon(scenario: String, in directory: URL, _ script: String) throws -> ProcessOutcome {
        let config = directory.appendingPathComponent("daemon.toml")
        try "[daemon]\nsocket_mode = \"0666\"\n".write(to: config, atomically: true, encoding: .utf8)
        // Unprivileged users run their own copies: the build folder may sit under a private home.
        for tool in ["sustain-measure"] {
            let copy = directory.appendingPathComponent(tool).path
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: Harness.product(tool), toPath: copy)
            chmod(copy, 0o755)
        }
        let wrapped = """
            set -u
            D=\(directory.path); SOCK=$D/s.sock; export D SOCK
            \(Harness.product("sustain-measured")) --config $D/daemon.toml --socket $SOCK --database $D/jobs.sqlite 2> $D/daemon.log &
            DAEMON=$!
            for i in $(seq 1 100); do [ -S $SOCK ] && break; sleep 0.05; done
            sleep 0.3
            \(script)
            status=$?
            kill -TERM $DAEMON; wait $DAEMON
            exit $status
            """
        return try Harness.run([
            "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
            scenario, "--", "/bin/sh", "-c", wrapped,
        ])
    }

    @Test func anUnprivilegedUserGetsRAPLEnergyThroughTheDaemon() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try Self.withDaemon(
            scenario: "unreadable", in: directory,
            """
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK --label team=ml \
                --report $D/r.json -- /bin/sleep 2
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure report export --format csv \
                --socket $SOCK > $D/export.csv
            setpriv --reuid=4242 --regid=4242 --clear-groups $D/sustain-measure report export --format csv \
                --socket $SOCK > $D/other.csv
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure report list --socket $SOCK > $D/list.txt
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure report export --socket $SOCK \
                > $D/export.json
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        #expect(report.owner?.uid == 65534)
        #expect(report.labels["team"] == "ml")
        // The user cannot read energy_uj; the daemon (root) can: package + dram of both sockets, 176 W.
        let counted = Set(report.energy.domains.filter(\.counted).map(\.id))
        #expect(counted == ["intel-rapl:0", "intel-rapl:0:1", "intel-rapl:1", "intel-rapl:1:1"])
        let injected = 176 * report.durationSeconds
        let joules = try #require(report.energy.joules)
        #expect(abs(joules - injected) / injected < 0.005, "\(joules) J vs \(injected) J")
        let log = try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
        #expect(log.contains("job finished"), "one log line per job")
        // The carbon log, read back through the API: the owner sees the job, another user does not.
        let export = try String(contentsOf: directory.appendingPathComponent("export.csv"), encoding: .utf8)
        let lines = export.split(separator: "\n")
        #expect(lines.first == "id,uid,user,started_at,ended_at,exit_code,joules,kg_co2e,labels,command")
        #expect(lines.count == 2)
        #expect(lines.last?.hasPrefix("\(report.id),65534,nobody,") == true, "\(export)")
        #expect(lines.last?.contains("team=ml") == true)
        let other = try String(contentsOf: directory.appendingPathComponent("other.csv"), encoding: .utf8)
        #expect(other.split(separator: "\n").count == 1, "another user sees no job: \(other)")
        let list = try String(contentsOf: directory.appendingPathComponent("list.txt"), encoding: .utf8)
        #expect(list.contains(report.id) && list.contains("finished"))
        let exported = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("export.json")))
                as? [[String: Any]])
        #expect(exported.count == 1)
        #expect(exported.first?["id"] as? String == report.id)
        // Through SQLite REAL and back: equal to the last bit or two.
        let exportedJoules = try #require(exported.first?["joules"] as? Double)
        #expect(abs(exportedJoules - joules) <= 1e-12 * joules)
    }

    @Test func peerCredentialsDecideWhoSeesAndStopsAJob() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try Self.withDaemon(
            scenario: "two-socket", in: directory,
            """
            as() { u=$1; shift; setpriv --reuid=$u --regid=$u --clear-groups "$@"; }
            ID=$(as 65534 curl -sf --unix-socket $SOCK -X POST -d '{"command":["a"],"pid":1}' http://x/v1/jobs \
                | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')
            echo "id=$ID"
            echo "other-stop=$(as 4242 curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK -X POST -d '{}' http://x/v1/jobs/$ID/stop)"
            echo "other-get=$(as 4242 curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK http://x/v1/jobs/$ID)"
            echo "other-list=$(as 4242 curl -s --unix-socket $SOCK http://x/v1/jobs)"
            echo "root-list=$(curl -s --unix-socket $SOCK http://x/v1/jobs)"
            echo "owner-stop=$(as 65534 curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK -X POST -d '{"exit_code":0}' http://x/v1/jobs/$ID/stop)"
            echo "claimed=$(as 4242 curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK -H 'X-Sustain-Test-Uid: 0' http://x/v1/jobs/$ID)"
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("other-stop=403"), "\(text)")
        #expect(text.contains("other-get=403"))
        #expect(text.contains("other-list={\"finished\":[],\"running\":[]}"))
        #expect(text.contains("root-list={\"finished\":[],\"running\":[{"))
        #expect(text.contains("owner-stop=200"))
        #expect(text.contains("claimed=403"), "a header cannot claim another identity")
    }
}
