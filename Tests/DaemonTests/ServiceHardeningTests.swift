import Foundation
import Reports
import SustainAPI
import SustainTestSupport
import Testing

@testable import Daemon

/// `sustain-measured` under attack and under faults, each test the attack or fault that found a defect: a second
/// daemon, a planted symbolic link, a socket directory others can write, a deleted socket, a deleted database, a
/// read-only disk, a flood of pid-less jobs, other users' jobs in /metrics, hostile commands.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServiceHardeningTests {
    static func text(_ outcome: ProcessOutcome) -> String { String(decoding: outcome.stdout, as: UTF8.self) }

    static func log(_ directory: URL) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
    }

    static let daemon = Harness.product("sustain-measured")

    @Test func aSecondDaemonOnTheSameStateExitsAndTheFirstKeepsItsSocket() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            \(Self.daemon) --config $D/daemon.toml --socket $SOCK --database $D/jobs.sqlite 2> $D/second.log
            echo "second=$?"
            \(Self.daemon) --config $D/daemon.toml --socket $D/other.sock --database $D/jobs.sqlite 2>> $D/second.log
            echo "second-other-socket=$?"
            \(Self.daemon) --config $D/daemon.toml --socket $SOCK --database $D/other.sqlite 2>> $D/second.log
            echo "second-same-socket=$?"
            echo "health=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK http://x/v1/health)"
            """)
        let text = Self.text(outcome)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("second=1") && text.contains("second-other-socket=1"), "\(text)")
        #expect(text.contains("second-same-socket=1"), "\(text)")
        #expect(text.contains("health=200"), "the first daemon still answers: \(text)")
        let second = try String(contentsOf: directory.appendingPathComponent("second.log"), encoding: .utf8)
        #expect(second.contains("another sustain-measured (pid "), "\(second)")
        #expect(second.contains("another server answers here"), "\(second)")
    }

    @Test func theStateIsPrivateWhateverTheUmaskAndTheSocketHasItsMode() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            kill -TERM $DAEMON; wait $DAEMON
            umask 000
            rm -f $SOCK
            \(Self.daemon) --config $D/daemon.toml --socket $SOCK --database $D/state/jobs.sqlite 2>> $D/daemon.log &
            DAEMON=$!
            for i in $(seq 1 100); do [ -S $SOCK ] && break; sleep 0.05; done
            curl -sf --unix-socket $SOCK -X POST -d '{"command":["x"]}' http://x/v1/jobs > /dev/null
            sleep 1.5
            stat -c '%n %a' $D/state $D/state/jobs.sqlite $D/state/jobs.sqlite-wal $D/state/jobs.sqlite-shm $SOCK
            ls -a $D
            """)
        let text = Self.text(outcome)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("/state 700"), "\(text)")
        #expect(text.contains("jobs.sqlite 600") && text.contains("jobs.sqlite-wal 600"), "\(text)")
        #expect(text.contains("jobs.sqlite-shm 600"), "\(text)")
        #expect(text.contains("s.sock 666"), "the configured mode, not the umask's: \(text)")
        #expect(!text.contains(".sustain-measured-") || text.contains("s.sock"), "\(text)")
    }

    /// The attack on the old code: a symbolic link at the socket's path (to a root-only file) made that file
    /// `root:sustain 0660`. Now a path that is not a socket is refused and the file is untouched; so is a socket
    /// directory that others can write and that is not sticky.
    @Test func aPlantedLinkAndAnOpenDirectoryAreRefused() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            echo secret > $D/shadow; chmod 600 $D/shadow
            ln -s $D/shadow $D/planted.sock
            \(Self.daemon) --config $D/daemon.toml --socket $D/planted.sock --database $D/a.sqlite 2> $D/planted.log
            echo "planted=$?"
            stat -c 'shadow %a %U' $D/shadow
            mkdir $D/open; chmod 777 $D/open
            \(Self.daemon) --config $D/daemon.toml --socket $D/open/s.sock --database $D/b.sqlite 2> $D/open.log
            echo "open=$?"
            """)
        let text = Self.text(outcome)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("planted=1") && text.contains("open=1"), "\(text)")
        #expect(text.contains("shadow 600 root"), "\(text)")
        let planted = try String(contentsOf: directory.appendingPathComponent("planted.log"), encoding: .utf8)
        #expect(
            planted.contains("a symbolic link, not a regular file") || planted.contains("symbolic link"), "\(planted)")
        let open = try String(contentsOf: directory.appendingPathComponent("open.log"), encoding: .utf8)
        #expect(open.contains("writable by every user and not sticky"), "\(open)")
    }

    /// A FIFO put in place of the configuration file: SIGHUP rejects it at once (the old code blocked reading
    /// it, and then neither reloaded nor stopped), and the daemon still answers and stops on SIGTERM.
    @Test func aFIFOAsTheConfigurationNeverBlocksAReload() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            mv $D/daemon.toml $D/good.toml; mkfifo $D/daemon.toml
            kill -HUP $DAEMON; sleep 0.5
            echo "health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket $SOCK http://x/v1/health)"
            """)
        let text = Self.text(outcome)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("health=200"), "\(text)")
        let log = try Self.log(directory)
        #expect(log.contains("configuration reload rejected") && log.contains("a FIFO, not a regular file"), "\(log)")
        #expect(log.contains("checkpoint saved at shutdown"), "SIGTERM still stops it")
    }

    /// A deleted socket file is put back within a checkpoint interval: the next wrapper is measured by the daemon.
    @Test func aDeletedSocketIsRestored() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            """
            rm $SOCK; sleep 2.5
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK --intensity 300 \
                --report $D/r.json -- /bin/sleep 1
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure report export --socket $SOCK \
                > $D/export.json
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        // The user's flag went with the job: the service computed the one figure, and stored the same.
        #expect(report.carbon.intensityGPerKwh == 300)
        let exported = try String(contentsOf: directory.appendingPathComponent("export.json"), encoding: .utf8)
        #expect(exported.contains("\"kg_co2e\" : \(report.carbon.kgCo2e ?? -1)"), "\(exported)")
        #expect(try Self.log(directory).contains("the socket file was deleted: restored"))
    }

    /// The database deleted while the daemon runs: noticed, made anew with the open job written back; the job
    /// that finishes after it and the one that was open are both in the log after a restart.
    /// The SLURM prolog (hostile input, round 3): `SLURM_JOB_UID=-1` registered the job for root; a state file that
    /// could not be written after the registration left the job open for days. Now the first is refused before
    /// anything is registered, and the second job is closed at once.
    @Test func thePrologRegistersForNoOneByMistakeAndLeaksNoJob() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            mkdir -p $D/state/93
            SLURM_JOB_ID=91 SLURM_JOB_UID=-1 $D/sustain-measure slurm prolog --socket $SOCK \
                --state-directory $D/state 2> $D/uid.err
            echo "uid=$?"
            SLURM_JOB_ID=93 SLURM_JOB_UID=65534 $D/sustain-measure slurm prolog --socket $SOCK \
                --state-directory $D/state 2> $D/state.err
            curl -sf --unix-socket $SOCK http://x/v1/jobs > $D/jobs.json
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = Self.text(outcome)
        let uidError = try String(contentsOf: directory.appendingPathComponent("uid.err"), encoding: .utf8)
        #expect(text.contains("uid=64") && uidError.contains("SLURM_JOB_UID is not a uid"), "\(text) \(uidError)")
        let stateError = try String(contentsOf: directory.appendingPathComponent("state.err"), encoding: .utf8)
        #expect(stateError.contains("job 93 is not measured"), "\(stateError)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let jobs = try decoder.decode(
            JobList.self, from: Data(contentsOf: directory.appendingPathComponent("jobs.json")))
        #expect(jobs.running.isEmpty, "no job left open: \(jobs.running)")
        #expect(jobs.finished.count == 1 && jobs.finished.first?.labels["slurm_job_id"] == "93", "\(jobs.finished)")
        #expect(jobs.finished.allSatisfy { $0.uid == 65534 })
    }

    @Test func aDeletedDatabaseIsMadeAnewAndLosesNoJob() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            OPEN=$(curl -sf --unix-socket $SOCK -X POST -d '{"command":["open"]}' http://x/v1/jobs \
                | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')
            rm $D/jobs.sqlite $D/jobs.sqlite-wal $D/jobs.sqlite-shm; sleep 2.5
            $D/sustain-measure --socket $SOCK --report $D/r.json -- /bin/sleep 0.5
            kill -TERM $DAEMON; wait $DAEMON
            start_daemon
            curl -sf --unix-socket $SOCK -X POST -d '{"exit_code":0}' http://x/v1/jobs/$OPEN/stop > $D/open.json
            echo "open-stop=$?"
            $D/sustain-measure report list --socket $SOCK > $D/list.txt
            """)
        let text = Self.text(outcome)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("open-stop=0"), "the open job survived the deletion and a restart: \(text)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        let list = try String(contentsOf: directory.appendingPathComponent("list.txt"), encoding: .utf8)
        #expect(list.contains(report.id), "\(list)")
        #expect(try Self.log(directory).contains("the database file was deleted or replaced"))
    }

    /// The database deleted just before a job ends (hostile input, round 3): the job was logged to the unlinked
    /// file and lost when it finished before the next checkpoint noticed. The store is checked at every write.
    @Test func aJobEndingRightAfterTheDatabaseIsDeletedIsLogged() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            ID=$(curl -sf --unix-socket $SOCK -X POST -d '{"command":["quick"]}' http://x/v1/jobs \
                | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')
            rm $D/jobs.sqlite $D/jobs.sqlite-wal $D/jobs.sqlite-shm
            curl -sf --unix-socket $SOCK -X POST -d '{"exit_code":0}' http://x/v1/jobs/$ID/stop > /dev/null
            echo "id=$ID"
            sleep 1.5
            $D/sustain-measure report list --socket $SOCK > $D/list.txt
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = Self.text(outcome)
        let id = try #require(text.split(separator: "\n").first { $0.hasPrefix("id=") }?.dropFirst(3))
        let list = try String(contentsOf: directory.appendingPathComponent("list.txt"), encoding: .utf8)
        #expect(!id.isEmpty && list.contains(id), "\(id) not in \(list)")
    }

    /// A full file system under the database: the finished job is answered with its report and a warning, the
    /// health route says 503 "degraded" and /metrics `sustain_store_up 0`; when space returns the job is logged,
    /// nothing lost. (A read-only remount is refused while the database is open for writing, so a full disk is
    /// the fault a test can make.)
    @Test func aFullDiskLosesNoJobAndSaysSo() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory,
            """
            kill -TERM $DAEMON; wait $DAEMON
            mkdir $D/state; mount -t tmpfs -o size=4m none $D/state
            rm -f $SOCK
            \(Self.daemon) --config $D/daemon.toml --socket $SOCK --database $D/state/jobs.sqlite 2>> $D/daemon.log &
            DAEMON=$!
            for i in $(seq 1 100); do [ -S $SOCK ] && break; sleep 0.05; done
            sleep 0.3
            dd if=/dev/zero of=$D/state/fill bs=4k 2>/dev/null
            $D/sustain-measure --socket $SOCK --report $D/r.json -- /bin/sleep 0.3; echo "wrapper=$?"
            sleep 1.5
            echo "health-full=$(curl -s -w ' %{http_code}' --unix-socket $SOCK http://x/v1/health)"
            curl -s --unix-socket $SOCK http://x/metrics | grep '^sustain_store' > $D/metrics.txt
            rm $D/state/fill; sleep 2.5
            echo "health-rw=$(curl -s -w ' %{http_code}' --unix-socket $SOCK http://x/v1/health)"
            kill -TERM $DAEMON; wait $DAEMON
            \(Harness.product("sustain-measure")) report list --socket $D/none.sock --database $D/state/jobs.sqlite \
                > $D/list.txt 2>/dev/null
            start_daemon
            """)
        let text = Self.text(outcome)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("wrapper=0"), "\(text)")
        #expect(text.contains("\"status\":\"degraded\"") && text.contains("} 503"), "\(text)")
        #expect(text.contains("\"pending_jobs\":1"), "\(text)")
        #expect(text.contains("health-rw={") && text.contains("\"status\":\"ok\"") && text.contains("} 200"), "\(text)")
        let metrics = try String(contentsOf: directory.appendingPathComponent("metrics.txt"), encoding: .utf8)
        #expect(
            metrics.contains("sustain_store_up 0") && metrics.contains("sustain_store_pending_jobs 1"), "\(metrics)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.energy.joules != nil)
        #expect(report.warnings.contains { $0.contains("retries every checkpoint") }, "\(report.warnings)")
        let list = try String(contentsOf: directory.appendingPathComponent("list.txt"), encoding: .utf8)
        #expect(list.contains(report.id), "logged once the disk came back: \(list)")
    }

    /// One user cannot fill the daemon with jobs: a cap per user (429), root exempt; a job without a process is
    /// closed after the maximum age, with the reason in its report. /metrics shows a user only their own jobs.
    @Test func openJobsAreCappedAgedAndPrivateInMetrics() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory, config: "max_open_jobs_per_user = 3\nmax_job_age_without_pid = 2\n",
            """
            as() { u=$1; shift; setpriv --reuid=$u --regid=$u --clear-groups "$@"; }
            for i in 1 2 3 4; do
                echo "user-$i=$(as 65534 curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK -X POST \
                    -d '{"command":["x"]}' http://x/v1/jobs)"
            done
            for i in 1 2 3 4; do
                echo "root-$i=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK -X POST \
                    -d '{"command":["y"]}' http://x/v1/jobs)"
            done
            echo "other-metrics=$(as 4242 curl -s --unix-socket $SOCK http://x/metrics | grep -c 'user="nobody"')"
            echo "own-metrics=$(as 65534 curl -s --unix-socket $SOCK http://x/metrics | grep -c 'sustain_job_carbon_grams_total{')"
            echo "root-metrics=$(curl -s --unix-socket $SOCK http://x/metrics | grep -c 'sustain_job_carbon_grams_total{')"
            sleep 3.5
            curl -s --unix-socket $SOCK http://x/v1/health; echo
            as 65534 curl -s --unix-socket $SOCK 'http://x/v1/jobs' > $D/jobs.json
            """)
        let text = Self.text(outcome)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("user-3=201") && text.contains("user-4=429"), "\(text)")
        #expect(text.contains("root-4=201"), "\(text)")
        #expect(text.contains("other-metrics=0"), "\(text)")
        #expect(text.contains("own-metrics=3"), "\(text)")
        #expect(text.contains("root-metrics=7"), "\(text)")
        #expect(text.contains("\"open_jobs\":0"), "pid-less jobs closed after their maximum age: \(text)")
        let jobs = try String(contentsOf: directory.appendingPathComponent("jobs.json"), encoding: .utf8)
        #expect(jobs.contains("incomplete"), "\(jobs)")
    }

    /// A command of 20,000 words (more than the service stores) is measured by the service whole; the report
    /// keeps the first words and says how many there were. Control characters in a command never reach the
    /// daemon's log raw.
    @Test func longAndHostileCommandsAreMeasuredAndEscaped() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            """
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK \
                --report $D/long.json -- /bin/sh -c 'echo $#' sh $(seq 100000000000000 100000000020000)
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK \
                --report $D/forged.json -- /bin/true "$(printf 'a\\n2026-01-01T00:00:00 critical : forged\\033[2J')"
            $D/sustain-measure report list --socket $SOCK > $D/list.txt
            $D/sustain-measure report export --format csv --socket $SOCK > $D/export.csv
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(Self.text(outcome).contains("20001"))
        let long = try Report.decode(Data(contentsOf: directory.appendingPathComponent("long.json")))
        #expect(long.measuredBy == "sustain-measured")
        #expect(long.commandWords == 20_005)
        #expect(long.command.count < 20_005 && long.command.count > 1000)
        #expect(long.warnings.contains { $0.contains("had 20005 words") }, "\(long.warnings)")
        let forged = try Report.decode(Data(contentsOf: directory.appendingPathComponent("forged.json")))
        #expect(forged.measuredBy == "sustain-measured")
        let log = try Self.log(directory)
        #expect(!log.contains("\n2026-01-01T00:00:00 critical : forged"), "a forged log line")
        #expect(!log.contains("\u{1B}"), "an escape sequence in the log")
        #expect(log.contains("a\\n2026-01-01T00:00:00 critical : forged\\u{1B}[2J"), "\(log)")
        // Root's terminal: `report list` and the CSV export show the command escaped, never the escape sequence.
        for file in ["list.txt", "export.csv"] {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains("\u{1B}") && !text.contains("\n2026-01-01T00:00:00 critical"), "\(file): \(text)")
            #expect(text.contains("a\\n2026-01-01"), "\(file): \(text)")
        }
    }
}
