import Foundation
import Reports
import SustainTestSupport
import Testing

@testable import Daemon

/// The daemon for real: `sustain-measured` on a Unix socket inside the fake-sysfs namespace, used by an
/// unprivileged user's `sustain-measure` and by `curl --unix-socket` as two different users.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct SocketTests {
    /// Runs `script` (sh) inside the fake tree with the daemon listening on `$SOCK` (`config` added to its
    /// `daemon.toml`, which saves checkpoints every second); returns its outcome. `start_daemon` (re)starts it and
    /// sets `$DAEMON`.
    static func withDaemon(
        scenario: String, in directory: URL, config: String = "", fakesys options: [String] = [],
        environment: [String: String] = [:], _ script: String
    ) throws -> ProcessOutcome {
        let file = directory.appendingPathComponent("daemon.toml")
        try "[daemon]\nsocket_mode = \"0666\"\ncheckpoint_interval = 1\n\(config)".write(
            to: file, atomically: true, encoding: .utf8)
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
            start_daemon() {
                rm -f $SOCK
                \(Harness.product("sustain-measured")) --config $D/daemon.toml --socket $SOCK \\
                    --database $D/jobs.sqlite 2>> $D/daemon.log &
                DAEMON=$!
                for i in $(seq 1 100); do [ -S $SOCK ] && break; sleep 0.05; done
                sleep 0.3
            }
            start_daemon
            \(script)
            status=$?
            kill -TERM $DAEMON; wait $DAEMON
            exit $status
            """
        return try Harness.run(
            [
                "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
                scenario,
            ] + options + ["--", "/bin/sh", "-c", wrapped],
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
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
            ID=$(as 65534 curl -sf --unix-socket $SOCK -X POST -d '{"command":["a"]}' http://x/v1/jobs \
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

    /// `kill -9` of the daemon while an unprivileged user's job runs, and a restart: the job continues and its
    /// report matches the injected energy over the whole run (the gap recovered from the RAPL counters); a job
    /// whose process died meanwhile is closed as incomplete; the database stays sound.
    @Test func aKilledDaemonIsRestartedAndTheJobLosesNoEnergy() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try Self.withDaemon(
            scenario: "unreadable", in: directory,
            """
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK \
                --report $D/r.json -- /bin/sleep 5 > $D/wrapper.txt 2>&1 &
            WRAPPER=$!
            sleep 100 & VICTIM=$!
            VICTIM_ID=$(curl -sf --unix-socket $SOCK -X POST -d "{\\"command\\":[\\"victim\\"],\\"pid\\":$VICTIM}" \
                http://x/v1/jobs | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')
            echo "victim=$VICTIM_ID"
            sleep 2
            kill -9 $DAEMON; wait $DAEMON 2>/dev/null
            kill -9 $VICTIM; wait $VICTIM 2>/dev/null
            sleep 1
            start_daemon
            wait $WRAPPER; echo "wrapper=$?"
            curl -s --unix-socket $SOCK http://x/v1/jobs/$VICTIM_ID > $D/victim.json
            $D/sustain-measure report list --socket $SOCK > $D/list.txt
            kill -TERM $DAEMON; wait $DAEMON
            \(Harness.product("sustain-measure")) report list --socket $SOCK --database $D/jobs.sqlite \
                > $D/offline.txt 2> $D/offline.err
            \(Harness.product("sustain-measure")) report show $VICTIM_ID --socket $SOCK --database $D/jobs.sqlite \
                > $D/offline-show.json
            start_daemon
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("wrapper=0"), "\(text)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        let injected = 176 * report.durationSeconds
        let joules = try #require(report.energy.joules)
        #expect(report.durationSeconds > 4.9)
        #expect(abs(joules - injected) / injected < 0.005, "\(joules) J vs \(injected) J over the crash")
        let gap = try #require(report.gaps?.first)
        #expect(
            Set(gap.recovered).isSuperset(of: ["intel-rapl:0", "intel-rapl:0:1", "intel-rapl:1", "intel-rapl:1:1"]))
        #expect(gap.seconds > 0.9 && gap.seconds < 8, "\(gap.seconds) s")

        let victim = try Report.decode(Data(contentsOf: directory.appendingPathComponent("victim.json")))
        #expect(victim.exitCode == nil)
        #expect(victim.warnings.contains { $0.contains("closed as incomplete") }, "\(victim.warnings)")
        let victimJoules = try #require(victim.energy.joules)
        #expect(abs(victimJoules - 176 * victim.durationSeconds) < 0.01 * victimJoules)
        let list = try String(contentsOf: directory.appendingPathComponent("list.txt"), encoding: .utf8)
        #expect(list.contains(victim.id) && list.contains("incomplete"), "\(list)")
        let log = try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
        #expect(log.contains("continued=1") && log.contains("closed=1"), "\(log)")
        #expect(log.contains("checkpoint saved at shutdown"), "SIGTERM saves the open jobs' state")
        // Root, with the daemon stopped: the report command reads the database itself.
        let offline = try String(contentsOf: directory.appendingPathComponent("offline.txt"), encoding: .utf8)
        #expect(offline.contains(victim.id) && offline.contains(report.id), "\(offline)")
        let note = try String(contentsOf: directory.appendingPathComponent("offline.err"), encoding: .utf8)
        #expect(note.contains("reading") && note.contains("jobs.sqlite directly"), "\(note)")
        let shown = try Report.decode(Data(contentsOf: directory.appendingPathComponent("offline-show.json")))
        #expect(shown == victim)
        let store = try JobStore(path: directory.appendingPathComponent("jobs.sqlite").path)
        #expect(try store.integrityCheck() == "ok")
        #expect(try store.recoveryState().open.isEmpty)
    }

    /// SIGHUP reloads the configuration: a bad file is rejected and the running one kept; a good one applies to
    /// the next job. `/metrics` is also served on TCP when configured, and nothing else is.
    @Test func sighupReloadsAGoodFileAndKeepsTheOldOneOnABadOne() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = 20_000 + Int(getpid() % 20_000)
        let outcome = try Self.withDaemon(
            scenario: "two-socket", in: directory,
            config: "metrics_address = \"127.0.0.1:\(port)\"\n[impact]\nintensity = 100\n",
            """
            job() { ID=$(curl -sf --unix-socket $SOCK -X POST -d '{"command":["x"]}' http://x/v1/jobs \
                | sed 's/.*"id":"\\([^"]*\\)".*/\\1/'); sleep 0.3
                curl -sf --unix-socket $SOCK -X POST -d '{"exit_code":0}' http://x/v1/jobs/$ID/stop > $D/$1.json; }
            job before
            cp $D/daemon.toml $D/good.toml
            printf '[daemon]\\nsocket_mode = "0666"\\nbogus = 1\\n' > $D/daemon.toml
            kill -HUP $DAEMON; sleep 0.5
            kill -0 $DAEMON && echo "alive-after-bad"
            job bad
            sed 's/intensity = 100/intensity = 300/' $D/good.toml > $D/daemon.toml
            kill -HUP $DAEMON; sleep 0.5
            job good
            curl -s http://127.0.0.1:\(port)/metrics > $D/metrics.txt
            echo "tcp-health=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/v1/health)"
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("alive-after-bad"))
        func intensity(_ name: String) throws -> Double {
            try Report.decode(Data(contentsOf: directory.appendingPathComponent("\(name).json"))).carbon
                .intensityGPerKwh
        }
        #expect(try intensity("before") == 100)
        #expect(try intensity("bad") == 100, "a rejected file changes nothing")
        #expect(try intensity("good") == 300)
        let log = try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
        #expect(log.contains("configuration reload rejected") && log.contains("daemon.bogus"), "\(log)")
        #expect(log.contains("configuration reloaded"))
        let metrics = try String(contentsOf: directory.appendingPathComponent("metrics.txt"), encoding: .utf8)
        #expect(metrics.contains("sustain_energy_joules_total{"), "\(metrics)")
        #expect(text.contains("tcp-health=404"), "only /metrics on TCP: \(text)")
    }

    /// A user's wrapper inside a container (its own pid namespace) names itself by its container pid; the daemon
    /// ties that to the host pid the kernel gives it, so the job is tracked and measured, not refused.
    @Test func aWrapperInAChildPidNamespaceIsMeasuredByTheDaemon() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try Self.withDaemon(
            scenario: "unreadable", in: directory,
            """
            unshare -p -f --mount-proc setpriv --reuid=65534 --regid=65534 --clear-groups \
                /bin/sh -c "echo inner-pid=\\$\\$; exec $D/sustain-measure --socket $SOCK --report $D/r.json -- /bin/sleep 2"
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("inner-pid=1"), "the wrapper really was in a new pid namespace: \(text)")
        #expect(!outcome.stderr.contains("measuring here instead"), "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        let joules = try #require(report.energy.joules)
        #expect(abs(joules - 176 * report.durationSeconds) / (176 * report.durationSeconds) < 0.005)
    }
}
