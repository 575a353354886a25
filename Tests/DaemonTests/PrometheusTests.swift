import Foundation
import Reports
import SustainTestSupport
import Testing

/// Debian's Prometheus server, when installed (`.ci/run` installs it).
let prometheusInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus")

/// A job that ran on two nodes, totalled by the engine clusters already run: two `sustain-measured` "nodes" on this
/// machine, each in its own fake tree with its own socket, database, metrics port and `host`, one SLURM job id on
/// both, scraped by a real Prometheus every second. PromQL's `sum by (slurm_job_id)` of the final counters is the sum
/// of the two nodes' reports.
@Suite(
    .serialized,
    .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)),
    .enabled(if: prometheusInstalled, "SKIPPED: prometheus is not installed (apt-get install prometheus): untested"))
struct PrometheusTests {
    @Test func promQLTotalsAMultiNodeJobFromTheNodesFinalCounters() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let d = directory.path
        let base = 19_000 + Int(getpid() % 500) * 4
        let (prometheusPort, portA, portB) = (base, base + 1, base + 2)
        try """
        global:
          scrape_interval: 1s
        scrape_configs:
          - job_name: sustain
            static_configs:
              - targets: ['127.0.0.1:\(portA)', '127.0.0.1:\(portB)']

        """.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        for (node, port) in [("nodeA", portA), ("nodeB", portB)] {
            try """
            [daemon]
            socket_mode = "0666"
            checkpoint_interval = 1
            metrics_address = "127.0.0.1:\(port)"
            per_job_metrics = true
            host = "\(node)"

            """.write(to: directory.appendingPathComponent("\(node).toml"), atomically: true, encoding: .utf8)
            // Each node: its own fake tree and daemon, one job labelled with the SLURM job id for 3 s; the daemon
            // stays up after the job so that Prometheus scrapes the final value.
            try """
            D=\(d); N=\(node); SOCK=$D/$N.sock
            \(Harness.product("sustain-measured")) --config $D/$N.toml --socket $SOCK --database $D/$N.sqlite \\
                2>> $D/$N.log &
            DAEMON=$!
            for i in $(seq 1 100); do [ -S $SOCK ] && break; sleep 0.05; done
            ID=$(curl -sf --unix-socket $SOCK -X POST \\
                -d '{"command":["train"],"labels":{"slurm_job_id":"4711"}}' http://x/v1/jobs \\
                | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')
            sleep 3
            curl -sf --unix-socket $SOCK -X POST -d '{"exit_code":0}' http://x/v1/jobs/$ID/stop > $D/$N.tmp
            mv $D/$N.tmp $D/$N.json
            sleep 6
            kill -TERM $DAEMON
            """.write(to: directory.appendingPathComponent("\(node).sh"), atomically: true, encoding: .utf8)
        }
        let query = "sum by (slurm_job_id) (last_over_time(sustain_job_energy_joules_total{slurm_job_id=\"4711\"}[1m]))"
        let outcome = try Harness.run([
            "/bin/sh", "-c",
            """
            D=\(d)
            prometheus --config.file=$D/prometheus.yml --storage.tsdb.path=$D/tsdb \\
                --web.listen-address=127.0.0.1:\(prometheusPort) > $D/prometheus.log 2>&1 &
            P=$!
            for node in nodeA nodeB; do
                unshare -m --propagation private \(Harness.product("sustain-fakesys")) --scenario two-socket -- \\
                    /bin/sh $D/$node.sh > $D/$node.out 2>&1 < /dev/null &
            done
            for i in $(seq 1 300); do [ -s $D/nodeA.json ] && [ -s $D/nodeB.json ] && break; sleep 0.1; done
            sleep 3  # three scrapes of the final values
            curl -sf -G 'http://127.0.0.1:\(prometheusPort)/api/v1/query' --data-urlencode 'query=\(query)' > $D/sum.json
            curl -sf -G 'http://127.0.0.1:\(prometheusPort)/api/v1/query' \\
                --data-urlencode 'query=count by (host) (sustain_job_carbon_grams_total{slurm_job_id="4711"})' \\
                > $D/hosts.json
            \(Harness.product("sustain-measure")) report cluster --slurm-job 4711 \\
                --prometheus http://127.0.0.1:\(prometheusPort) --range 10m --nodes nodeA,nodeB,nodeC -o $D/cluster.json \\
                2> $D/cluster.err || echo "cluster failed: $(cat $D/cluster.err)"
            \(Harness.product("sustain-measure")) report cluster --slurm-job 4712 \\
                --prometheus http://127.0.0.1:\(prometheusPort) > /dev/null 2> $D/none.err; echo "none=$?"
            kill -KILL $P
            for i in $(seq 1 100); do pgrep -f "$D/node" > /dev/null || break; sleep 0.1; done
            true
            """,
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let reports = try ["nodeA", "nodeB"].map {
            try Report.decode(Data(contentsOf: directory.appendingPathComponent("\($0).json")))
        }
        let joules = try reports.map { try #require($0.energy.joules) }
        let sum =
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("sum.json")))
            as? [String: Any]
        let result = ((sum?["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first
        let value = try #require((result?["value"] as? [Any])?.last as? String, "\(String(describing: sum))")
        let total = try #require(Double(value))
        let expected = joules.reduce(0, +)
        print("prometheus: sum by (slurm_job_id) \(total) J; the two nodes' reports \(joules)")
        #expect(abs(total - expected) / expected < 0.005, "\(total) J vs \(joules)")
        let hosts = try String(contentsOf: directory.appendingPathComponent("hosts.json"), encoding: .utf8)
        #expect(hosts.contains("nodeA") && hosts.contains("nodeB"), "\(hosts)")

        // report cluster: the same total as one merged report, from Prometheus alone, with the missing node named.
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(!text.contains("cluster failed"), "\(text)")
        let cluster = try Report.decode(Data(contentsOf: directory.appendingPathComponent("cluster.json")))
        let clusterJoules = try #require(cluster.energy.joules)
        #expect(abs(clusterJoules - expected) / expected < 0.005, "\(clusterJoules) J vs \(joules)")
        #expect(cluster.nodes?.map(\.host).sorted() == ["nodeA", "nodeB"])
        #expect(Set(cluster.nodes?.map(\.id) ?? []) == Set(reports.map(\.id)), "each node's job")
        #expect(cluster.missingNodes == ["nodeC"])
        #expect(cluster.warnings.contains { $0.contains("INCOMPLETE") })
        let grams = reports.compactMap(\.carbon.kgCo2e).reduce(0, +)
        #expect(cluster.carbon.kgCo2e.map { abs($0 - grams) / grams < 0.005 } == true)
        #expect(text.contains("none=64"), "no counters for another job: said, exit 64: \(text)")
        print("report cluster: \(clusterJoules) J from Prometheus vs \(expected) J in the reports")
    }
}
