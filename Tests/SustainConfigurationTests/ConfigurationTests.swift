import Impact
import Testing

@testable import SustainConfiguration

struct ConfigurationTests {
    @Test func shippedExampleParsesToTheDefaults() throws {
        let text = try Configuration.read(
            #filePath.replacingOccurrences(
                of: "Tests/SustainConfigurationTests/ConfigurationTests.swift", with: "config/sustain.toml"))
        let configuration = try Configuration(toml: text, path: "sustain.toml")
        var expected = Configuration()
        expected.path = "sustain.toml"
        #expect(configuration == expected)
    }

    @Test func everyKey() throws {
        let configuration = try Configuration(
            toml: """
                [impact]
                region = "aws:eu-west-3"
                pue = 1.2
                price = 0.25
                currency = "EUR"
                intensity_basis = "direct"
                [estimate]
                cpu_tdp = 85
                """, path: "t.toml")
        #expect(configuration.impact.region == "aws:eu-west-3")
        #expect(configuration.impact.pue == 1.2)
        #expect(configuration.impact.price == 0.25)
        #expect(configuration.impact.currency == "EUR")
        #expect(configuration.impact.intensityBasis == .direct)
        #expect(configuration.estimate.cpuTDP == 85)
    }

    @Test func embodiedEmissionsAndWater() throws {
        let impact = try Configuration(
            toml: """
                [impact]
                embodied_kg_co2e = 1500
                lifetime_years = 4
                wue_l_per_kwh = 1.8
                """, path: "t.toml"
        ).impact
        #expect(impact.embodiedKgCO2e == 1500 && impact.lifetimeYears == 4 && impact.wueLitresPerKilowattHour == 1.8)
    }

    @Test func everyControlKey() throws {
        let control = try Configuration(
            toml: """
                [control]
                groups = ["staff", "ml"]
                cpu_power_limit_min_watts = 60
                gpu_power_limit_min_watts = 150.5
                """, path: "t.toml"
        ).control
        #expect(control.groups == ["staff", "ml"])
        #expect(control.cpuPowerLimitMinWatts == 60)
        #expect(control.gpuPowerLimitMinWatts == 150.5)
    }

    @Test func watchedServices() throws {
        let watches = try Configuration(
            toml: """
                [[watch]]
                name = "vllm"
                unit = "vllm.service"
                units_url = "http://127.0.0.1:8000/metrics"
                units_metric = 'vllm:generation_tokens_total{model_name="llama"}'
                units_name = "token"

                [[watch]]
                name = "api"
                cgroup = "/system.slice/api.service"

                [[watch]]
                name = "ollama"
                pid_file = "/run/ollama.pid"
                """, path: "t.toml"
        ).watches
        #expect(watches.map(\.name) == ["vllm", "api", "ollama"])
        #expect(watches[0].target == .unit("vllm.service"))
        #expect(watches[0].unitsMetric?.matchers == ["model_name": "llama"])
        #expect(watches[0].unit == "token")
        #expect(watches[1].target == .cgroup("/system.slice/api.service") && watches[1].unit == "unit")
        #expect(watches[2].target == .pidFile("/run/ollama.pid") && watches[2].unitsURL == nil)
    }

    @Test(arguments: [
        ("[[watch]]\ncgroup = \"/a\"\n", "watch[0].name"),
        ("[[watch]]\nname = \"a b\"\ncgroup = \"/a\"\n", "watch[0].name"),
        ("[[watch]]\nname = \"a\"\ncgroup = \"/a\"\n[[watch]]\nname = \"a\"\ncgroup = \"/b\"\n", "watch[1].name"),
        ("[[watch]]\nname = \"a\"\n", "watch[0]"),
        ("[[watch]]\nname = \"a\"\ncgroup = \"/a\"\nunit = \"a.service\"\n", "watch[0]"),
        ("[[watch]]\nname = \"a\"\ncgroup = \"/a/../b\"\n", "watch[0].cgroup"),
        ("[[watch]]\nname = \"a\"\nunit = \"vllm\"\n", "watch[0].unit"),
        ("[[watch]]\nname = \"a\"\npid_file = \"run/a.pid\"\n", "watch[0].pid_file"),
        (
            "[[watch]]\nname = \"a\"\ncgroup = \"/a\"\nunits_url = \"https://x/m\"\nunits_metric = \"m\"\n",
            "watch[0].units_url"
        ),
        (
            "[[watch]]\nname = \"a\"\ncgroup = \"/a\"\nunits_url = \"http://x/m\"\nunits_metric = \"9m\"\n",
            "watch[0].units_metric"
        ),
        ("[[watch]]\nname = \"a\"\ncgroup = \"/a\"\nunits_metric = \"m\"\n", "watch[0]"),
        ("[[watch]]\nname = \"a\"\ncgroup = \"/a\"\nunits_name = \"to ken\"\n", "watch[0].units_name"),
        ("[[watch]]\nname = \"a\"\ncgroup = \"/a\"\nport = 1\n", "watch[0].port"),
        ("watch = 3\n", "watch"),
    ])
    func aBadWatchIsRejectedWithItsKey(text: String, key: String) {
        do {
            _ = try Configuration(toml: text, path: "bad.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.key == key, "\(error)")
        }
    }

    @Test func everyDaemonKey() throws {
        let daemon = try Configuration(
            toml: """
                [daemon]
                socket = "/tmp/s.sock"
                socket_mode = "0600"
                group = "ml"
                admin_group = "ml-admin"
                interval = 0.5
                database = "/tmp/jobs.sqlite"
                metrics_address = "127.0.0.1:9464"
                checkpoint_interval = 2
                retention_days = 90
                sources = ["powercap", "nvml"]
                watch_report_seconds = 600
                watch_scrape_seconds = 2.5
                """, path: "t.toml"
        ).daemon
        #expect(daemon.socket == "/tmp/s.sock")
        #expect(daemon.socketMode == 0o600)
        #expect(daemon.group == "ml")
        #expect(daemon.adminGroup == "ml-admin")
        #expect(daemon.interval == 0.5)
        #expect(daemon.database == "/tmp/jobs.sqlite")
        #expect(daemon.metricsAddress == "127.0.0.1:9464")
        #expect(daemon.checkpointInterval == 2)
        #expect(daemon.retentionDays == 90)
        #expect(daemon.sources == ["powercap", "nvml"])
        #expect(daemon.watchReportSeconds == 600 && daemon.watchScrapeSeconds == 2.5)
        #expect(Configuration().daemon.watchReportSeconds == 3600 && Configuration().daemon.watchScrapeSeconds == 5)
    }

    @Test(arguments: [
        ("[impact]\nregoin = \"FR\"\n", "impact.regoin"),
        ("[impcat]\n", "impcat"),
        ("[impact]\nregion = 42\n", "impact.region"),
        ("[impact]\nregion = \"frnce\"\n", "impact.region"),
        ("[impact]\npue = 0.8\n", "impact.pue"),
        ("[impact]\npue = \"high\"\n", "impact.pue"),
        ("[impact]\nprice = 0.2\n", "impact.currency"),
        ("[impact]\nintensity = -4\n", "impact.intensity"),
        ("[impact]\nintensity_basis = \"average\"\n", "impact.intensity_basis"),
        ("[estimate]\ncpu_tdp = -1\n", "estimate.cpu_tdp"),
        ("impact = 3\n", "impact"),
        ("[daemon]\ncheckpoint_interval = 30\n", "daemon.checkpoint_interval"),
        ("[daemon]\nretention_days = 1.5\n", "daemon.retention_days"),
        ("[daemon]\nsources = [\"rapl\"]\n", "daemon.sources"),
        ("[daemon]\nsources = \"nvml\"\n", "daemon.sources"),
        ("[daemon]\ninterval = 0\n", "daemon.interval"),
        ("[daemon]\nsocket = \"run/s.sock\"\n", "daemon.socket"),
        ("[daemon]\nsocket_mode = \"rw\"\n", "daemon.socket_mode"),
        ("[daemon]\nmetrics_address = \"localhost\"\n", "daemon.metrics_address"),
        ("[daemon]\nbogus = 1\n", "daemon.bogus"),
        ("[daemon]\nwatch_report_seconds = 1\n", "daemon.watch_report_seconds"),
        ("[daemon]\nwatch_scrape_seconds = 0.1\n", "daemon.watch_scrape_seconds"),
        ("[daemon]\nwatch_scrape_seconds = \"often\"\n", "daemon.watch_scrape_seconds"),
        ("[impact]\nembodied_kg_co2e = 1500\n", "impact.embodied_kg_co2e"),
        ("[impact]\nembodied_kg_co2e = -1\nlifetime_years = 4\n", "impact.embodied_kg_co2e"),
        ("[impact]\nembodied_kg_co2e = 1500\nlifetime_years = 0\n", "impact.lifetime_years"),
        ("[impact]\nwue_l_per_kwh = 99\n", "impact.wue_l_per_kwh"),
        ("[control]\ngroups = \"staff\"\n", "control.groups"),
        ("[control]\ngroups = [\"\"]\n", "control.groups"),
        ("[control]\ncpu_power_limit_min_watts = 0\n", "control.cpu_power_limit_min_watts"),
        ("[control]\ngpu_power_limit_min_watts = \"low\"\n", "control.gpu_power_limit_min_watts"),
        ("[control]\ngpu_power_limit = 100\n", "control.gpu_power_limit"),
    ])
    func badFileIsRejectedWithTheKey(text: String, key: String) {
        do {
            _ = try Configuration(toml: text, path: "bad.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(error.description.contains("bad.toml"))
        }
    }

    @Test func invalidTOMLSaysWhere() {
        do {
            _ = try Configuration(toml: "[impact\nregion = \n", path: "broken.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.key == nil)
            #expect(error.reason.contains("line"))
        }
    }

    @Test func precedenceIsFlagsThenFileThenWorld() throws {
        var file = Configuration()
        file.impact.region = "DE"
        file.impact.pue = 1.3
        let fromFile = try file.carbonSettings(
            region: nil, intensity: nil, intensityBasis: nil, pue: nil, price: nil, currency: nil)
        #expect(fromFile.region?.factor.code == "DE")
        #expect(fromFile.origin == .configuration)
        #expect(fromFile.pue.value == 1.3)
        let fromFlag = try file.carbonSettings(
            region: "FR", intensity: nil, intensityBasis: nil, pue: 1.1, price: nil, currency: nil)
        #expect(fromFlag.region?.factor.code == "FR")
        #expect(fromFlag.origin == .regionFlag)
        #expect(fromFlag.pue.value == 1.1)
        let given = try file.carbonSettings(
            region: "FR", intensity: 100, intensityBasis: .direct, pue: nil, price: nil, currency: nil)
        #expect(given.origin == .intensityFlag)
        #expect(given.intensity == CarbonIntensity(gramsPerKilowattHour: 100, basis: .direct))
        let defaults = try Configuration().carbonSettings(
            region: nil, intensity: nil, intensityBasis: nil, pue: nil, price: nil, currency: nil)
        #expect(defaults.origin == .worldAverage)
        #expect(defaults.pue.value == 1.0)
        #expect(defaults.price == nil)
    }

    @Test func searchPathOrder() {
        let paths = Configuration.searchPath(environment: ["SUSTAIN_CONFIG": "/x.toml", "HOME": "/home/u"])
        #expect(paths == ["/x.toml", "/home/u/.config/sustain/sustain.toml", "/etc/sustain/sustain.toml"])
        let xdg = Configuration.searchPath(environment: ["XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"])
        #expect(xdg == ["/cfg/sustain/sustain.toml", "/etc/sustain/sustain.toml"])
    }
}

struct CandidateTOMLTests {
    @Test func sameCandidatesAsTheCSV() throws {
        let toml = """
            # two candidates
            [[candidate]]
            name = "large"
            params = 7e9
            tokens = 1.4e11
            hardware = "nvidia-h100-sxm"
            devices = 32

            [[candidate]]
            name = "small"
            params = 1.3e9
            tokens = 2.6e10
            hardware = "nvidia-a100-sxm"
            devices = 8
            requests = 1e7
            tokens_per_request = 300
            """
        let fromTOML = try CandidateFile.parse(toml: toml, file: "c.toml")
        let fromCSV = try CandidateFile.parse(
            """
            name,params,tokens,hardware,devices,requests,tokens_per_request
            large,7e9,1.4e11,nvidia-h100-sxm,32,,
            small,1.3e9,2.6e10,nvidia-a100-sxm,8,1e7,300
            """, file: "c.csv")
        #expect(fromTOML.map(\.name) == fromCSV.map(\.name))
        #expect(fromTOML.map(\.training) == fromCSV.map(\.training))
        #expect(fromTOML.map(\.serving) == fromCSV.map(\.serving))
        #expect(fromTOML.map(\.devices) == fromCSV.map(\.devices))
    }

    @Test(arguments: [
        ("[[candidate]]\nname = \"a\"\nparams = 1e9\ntokens = \"lots\"\nhardware = \"nvidia-l4\"\n", 1, "tokens"),
        (
            "[[candidate]]\nname = \"a\"\nparams = 1e9\ntokens = 1e9\nhardware = \"nvidia-l4\"\n\n[[candidate]]\nname = \"b\"\nparms = 1e9\n",
            7, "parms"
        ),
        ("[model]\nname = \"a\"\n", 1, "model"),
    ])
    func malformedTOMLNamesLineAndField(toml: String, line: Int, field: String) {
        do {
            _ = try CandidateFile.parse(toml: toml, file: "c.toml")
            Issue.record("accepted")
        } catch {
            guard case .malformed(_, let badLine, let badField, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(badLine == line)
            #expect(badField == field)
        }
    }
}
