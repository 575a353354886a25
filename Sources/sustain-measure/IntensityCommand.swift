import ArgumentParser
import Impact
import IntensityData
import LinuxSupport
import SustainCore

import struct FoundationEssentials.Date

extension SustainMeasure {
    /// `sustain-measure intensity fetch|show`: the grid's carbon intensity over time, and when to run for less.
    struct IntensityCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "intensity",
            abstract: "Grid carbon intensity over time: fetch a provider's series, show it, find the greenest start.",
            subcommands: [Fetch.self, Show.self])

        /// Runs `sustain-intensity fetch` (installed beside this binary): the wrapper itself never speaks to the
        /// internet, and links no TLS.
        struct Fetch: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Fetch a provider's series into the cache (runs sustain-intensity fetch).",
                discussion: """
                    sustain-measure intensity fetch --provider uk-carbon-intensity --zone GB
                    Providers: uk-carbon-intensity (GB, GB-1 … GB-17), energinet (DK1, DK2), electricity-maps \
                    (token), watttime (account; marginal). See sustain-intensity fetch --help.
                    """)

            @Argument(parsing: .captureForPassthrough, help: "The options of sustain-intensity fetch.")
            var arguments: [String] = []

            func run() throws {
                ChildProcess.prepareSignals()  // the child's end arrives through signalfd
                let directory = CurrentProcess.executablePath.map {
                    String($0[..<($0.lastIndex(of: "/") ?? $0.endIndex)])
                }
                var program = directory.map { $0 + "/sustain-intensity" } ?? "sustain-intensity"
                if !CurrentProcess.canExecute(program) { program = "sustain-intensity" }
                let executable: [UInt8]
                do {
                    executable = try ChildProcess.resolve(Array(program.utf8))
                } catch {
                    Terminal.error(
                        "sustain-measure: sustain-intensity is not installed beside sustain-measure or on PATH "
                            + "(\(error)); install it from the same build.")
                    throw ExitCode(127)
                }
                let child: ChildProcess
                do throws(SpawnError) {
                    child = try ChildProcess(
                        executable: executable,
                        arguments: [Array(program.utf8), Array("fetch".utf8)]
                            + arguments.map {
                                Array($0.utf8)
                            })
                } catch {
                    Terminal.error("sustain-measure: \(error)")
                    throw ExitCode(error.shellCode)
                }
                throw ExitCode(child.wait().shellCode)
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show a cached series and, with --duration, when to start for the least carbon.",
                discussion: """
                    sustain-measure intensity show --region GB --hours 24 --duration 3h
                    Reads the cache that intensity fetch writes (or --series FILE). The greenest start looks only \
                    at figures the series has for the coming hours (forecasts), at constant power.
                    """)

            @Option(
                help: ArgumentHelp("The zone or region of a cached series (GB, GB-13, DK1, DE).", valueName: "code"))
            var region: String?

            @Option(help: ArgumentHelp("A series file instead of the cache.", valueName: "file"))
            var series: String?

            @Option(help: ArgumentHelp("The cache directory.", valueName: "dir"))
            var cache: String?

            @Option(help: ArgumentHelp("Hours to show (and to look ahead with --duration).", valueName: "h"))
            var hours: Double = 24

            @Option(help: ArgumentHelp("A job's length (3h, 90m, 2h30m, 5400s): when to start it.", valueName: "d"))
            var duration: String?

            @Option(
                help: ArgumentHelp(
                    "Look as if it were this time (ISO 8601, UTC): for a recorded series.", valueName: "time"))
            var at: String?

            func validate() throws {
                guard region != nil || series != nil else {
                    throw ValidationError("Give --region CODE or --series FILE.")
                }
                guard hours > 0, hours <= 24 * 31 else { throw ValidationError("--hours from 0 to 744.") }
                if let at, UTCTimestamp.seconds(parsing: at) == nil {
                    throw ValidationError("--at: \"\(at)\" is not an ISO 8601 time (2026-11-29T14:00Z).")
                }
                if let duration, Self.seconds(duration) == nil {
                    throw ValidationError("--duration: \"\(duration)\" is not a length (3h, 90m, 2h30m, 5400s).")
                }
            }

            /// Seconds in `3h`, `90m`, `2h30m`, `5400s` or `5400`.
            static func seconds(_ text: String) -> Double? {
                if let plain = Double(text), plain > 0 { return plain }
                var total = 0.0
                var number = ""
                for character in text.lowercased() {
                    if character.isNumber || character == "." {
                        number.append(character)
                    } else {
                        guard let value = Double(number) else { return nil }
                        switch character {
                        case "h": total += value * 3600
                        case "m": total += value * 60
                        case "s": total += value
                        default: return nil
                        }
                        number = ""
                    }
                }
                return number.isEmpty && total > 0 ? total : nil
            }

            func run() throws {
                let loaded = try load()
                let series = loaded.series
                let now = at.flatMap { UTCTimestamp.seconds(parsing: $0) } ?? Date().timeIntervalSince1970
                let start = now - hours * 3600
                func time(_ seconds: Double) -> String {
                    let text = UTCTimestamp.string(secondsSince1970: seconds)
                    return text.prefix(10) + " " + text.dropFirst(11).prefix(5)
                }
                var lines = [
                    "\(series.provider) \(series.zone): \(series.basis.rawValue) intensity, gCO2/kWh"
                        + (series.fetchedAt.map { ", fetched \(time($0)) UTC" } ?? "") + ". \(series.attribution)."
                ]
                let shown = series.points(from: start, to: now + hours * 3600)
                if shown.isEmpty {
                    lines.append(
                        "No figures from \(time(start)) to \(time(now + hours * 3600)) UTC: the series holds "
                            + (series.points.first.flatMap { first in
                                series.points.last.map { "\(time(first.start)) to \(time($0.end))" }
                            } ?? "nothing") + ". Fetch it again.")
                } else {
                    let highest = shown.map(\.gramsPerKilowattHour).max() ?? 1
                    lines.append("time (UTC)          g/kWh")
                    for point in shown {
                        let bar = String(
                            repeating: "█", count: Int((point.gramsPerKilowattHour / max(highest, 1) * 30).rounded()))
                        let value = String(Int(point.gramsPerKilowattHour.rounded()))
                        lines.append(
                            "\(time(point.start))  \(String(repeating: " ", count: max(0, 5 - value.count)))\(value)  "
                                + bar + (point.forecast ? "  forecast" : "")
                                + (point.start <= now && now < point.end ? "  ← now" : ""))
                    }
                }
                if let duration, let length = Self.seconds(duration) {
                    if let best = series.greenestStart(duration: length, now: now, horizon: hours * 3600) {
                        let wait = best.start - now
                        var answer =
                            "For \(duration) starting within \(Self.hoursText(hours * 3600)): start "
                            + (wait < 60 ? "now" : "at \(time(best.start)) UTC (in \(Self.hoursText(wait)))")
                            + ", mean \(Int(best.mean.rounded())) g/kWh"
                        if let nowMean = best.nowMean, nowMean > 0, wait >= 60 {
                            let saving = (1 - best.mean / nowMean) * 100
                            answer +=
                                ", \(Int(saving.rounded())) % less than starting now (\(Int(nowMean.rounded())) g/kWh)"
                        } else if best.nowMean == nil {
                            answer += " (the series does not cover starting now)"
                        }
                        lines.append(answer + (series.basis == .marginal ? " (marginal rates)." : "."))
                    } else {
                        lines.append(
                            "For \(duration): the series does not cover a whole \(duration) window in the next "
                                + "\(Self.hoursText(hours * 3600)); fetch a provider that forecasts (uk-carbon-intensity, "
                                + "energinet, electricity-maps, watttime).")
                    }
                }
                print(lines.joined(separator: "\n"))
            }

            static func hoursText(_ seconds: Double) -> String {
                let minutes = Int((seconds / 60).rounded())
                return minutes >= 60
                    ? "\(minutes / 60) h\(minutes % 60 == 0 ? "" : " \(minutes % 60) min")" : "\(minutes) min"
            }

            func load() throws -> SeriesFile.Loaded {
                if let series {
                    do {
                        return try SeriesFile.load(series)
                    } catch {
                        throw ValidationError("--series: \(error)")
                    }
                }
                let directory =
                    cache
                    ?? SeriesCache.defaultDirectory(
                        environment: CurrentProcess.environment, isRoot: CurrentProcess.effectiveUID == 0)
                let wanted = (region ?? "").uppercased()
                let found = SeriesCache.all(in: directory)
                let match =
                    found.first { $0.loaded.series.zone.uppercased() == wanted }
                    ?? found.first { $0.loaded.region?.uppercased() == wanted }
                guard let match else {
                    let have = found.map { "\($0.loaded.series.provider) \($0.loaded.series.zone)" }
                    throw ValidationError(
                        "No cached series for \(region ?? "") in \(directory)"
                            + (have.isEmpty ? "" : " (it holds: \(have.joined(separator: ", ")))")
                            + ". Fetch one: sustain-measure intensity fetch --provider uk-carbon-intensity --zone GB.")
                }
                return match.loaded
            }
        }
    }
}
