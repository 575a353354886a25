import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The power timeline of one report: an SVG drawn here, its description and its data as a table.
extension HTMLReport {
    static let palette = ["#2f6db5", "#3fa37a", "#d08a2a", "#8a5cc2", "#c2504f", "#4aa0b5", "#9a8a3a", "#b55a8a"]
    static let besidePalette = ["#7a7a7a", "#c07030", "#5a8a3a", "#8a4a9a"]

    struct Frame {
        let width = 960.0
        let height = 320.0
        let left = 64.0
        let right = 16.0
        let top = 12.0
        let bottom = 40.0
        var seconds: Double
        var watts: Double
        func x(_ t: Double) -> Double { left + max(0, min(seconds, t)) / seconds * (width - left - right) }
        func y(_ w: Double) -> Double { height - bottom - max(0, w) / watts * (height - top - bottom) }
    }

    static func timelineFigure(_ report: Report) -> HTML {
        guard let timeline = report.timeline, !timeline.seconds.isEmpty else {
            return """
                <section><h2>Power over time</h2><p class="empty">No timeline: \
                \(report.energy.joules == nil ? "nothing counted was measured." : "this report has none (an older report, or the service no longer held the job's start).")\
                </p></section>

                """
        }
        let counted = timeline.series.filter(\.counted)
        let beside = timeline.series.filter { !$0.counted }
        let count = timeline.seconds.count
        let width = timeline.bucketSeconds
        func start(_ bucket: Int) -> Double { timeline.offsetSeconds + Double(bucket) * width }
        var highest = timeline.countedMaxWatts.compactMap { $0 }.max() ?? 0
        highest = max(highest, timeline.countedWatts.compactMap { $0 }.max() ?? 0)
        for series in beside { highest = max(highest, series.watts.compactMap { $0 }.max() ?? 0) }
        let (yTop, yStep) = niceScale(highest * 1.05)
        let duration = max(report.durationSeconds, start(count), 1e-3)
        let frame = Frame(seconds: duration, watts: yTop)
        let (timeUnit, timeScale) = timeUnit(for: duration)

        var svg: HTML = """
            <svg class="timeline" viewBox="0 0 \(Int(frame.width)) \(Int(frame.height))" role="img" \
            aria-labelledby="timeline-title timeline-desc" data-buckets="\(count)" \
            data-bucket-seconds="\(number(width))">
            <title id="timeline-title">Power over time</title>
            <desc id="timeline-desc">\(timelineDescription(report, timeline))</desc>

            """
        // Phases first, under the data: top-level shaded, nested as thin bars at the bottom.
        for (index, phase) in report.phases.enumerated() {
            let from = phase.startedAt.timeIntervalSince(report.startedAt)
            let to = phase.endedAt.timeIntervalSince(report.startedAt)
            let x0 = frame.x(from)
            let x1 = max(frame.x(to), x0 + 0.5)
            let tooltip =
                "\(phase.name): \(Quantity.duration(phase.seconds)), \(phase.joules.map(Quantity.energy) ?? "not measured")"
            if phase.parent == nil {
                svg += """
                    <g class="phase" data-phase="\(phase.name)"><title>\(tooltip)</title>\
                    <rect x="\(number(x0))" y="\(number(frame.top))" width="\(number(x1 - x0))" \
                    height="\(number(frame.height - frame.top - frame.bottom))" class="phase-\(index % 2)"/>
                    """
                if x1 - x0 > 36 {
                    svg += """
                        <text x="\(number(x0 + 3))" y="\(number(frame.top + 12))" class="phase-label">\
                        \(String(phase.name.prefix(Int((x1 - x0) / 7))))</text>
                        """
                }
                svg += "</g>\n"
            } else {
                svg += """
                    <rect class="nested-phase" data-phase="\(phase.name)" x="\(number(x0))" \
                    y="\(number(frame.height - frame.bottom - 5))" width="\(number(x1 - x0))" height="4">\
                    <title>\(tooltip)</title></rect>

                    """
            }
        }
        // Grid and axes.
        var tick = 0.0
        while tick <= yTop + yStep / 2 {
            let y = frame.y(tick)
            svg += """
                <line class="grid" x1="\(number(frame.left))" x2="\(number(frame.width - frame.right))" \
                y1="\(number(y))" y2="\(number(y))"/><text class="axis" x="\(number(frame.left - 6))" \
                y="\(number(y + 4))" text-anchor="end">\(short(tick, 3)) W</text>

                """
            tick += yStep
        }
        let (_, xStep) = niceScale(duration / timeScale)
        var t = 0.0
        while t <= duration / timeScale + 1e-9 {
            svg += verticalGridLine(
                at: frame.x(t * timeScale), from: frame.top, to: frame.height - frame.bottom, label: short(t, 3))
            t += xStep
        }
        svg += """
            <text class="axis-title" x="\(number((frame.left + frame.width - frame.right) / 2))" \
            y="\(number(frame.height - 4))" text-anchor="middle">time since start (\(timeUnit))</text>

            """
        // Counted domains, stacked: steps while a bucket is wider than a few pixels, else one point per bucket.
        let dense = count > 480
        var lower = [Double](repeating: 0, count: count)
        for (index, series) in counted.enumerated() {
            var path = ""
            var points = 0
            var run: [Int] = []
            func flush() {
                guard !run.isEmpty else { return }
                var top = ""
                var bottom = ""
                for bucket in run {
                    let upper = coordinate(frame.y(lower[bucket] + (series.watts[bucket] ?? 0)))
                    let base = coordinate(frame.y(lower[bucket]))
                    if dense {  // more buckets than pixels: one point per bucket, at its middle
                        let x = coordinate(frame.x(start(bucket) + width / 2))
                        top += (top.isEmpty ? "M" : "L") + "\(x),\(upper)"
                        bottom = "L\(x),\(base)" + bottom
                    } else {
                        let x0 = coordinate(frame.x(start(bucket)))
                        let x1 = coordinate(frame.x(start(bucket) + width))
                        top += (top.isEmpty ? "M" : "L") + "\(x0),\(upper)L\(x1),\(upper)"
                        bottom = "L\(x1),\(base)L\(x0),\(base)" + bottom
                    }
                }
                path += top + bottom + "Z"
                run = []
            }
            for bucket in 0..<count {
                if timeline.countedWatts[bucket] == nil {
                    flush()
                } else {
                    run.append(bucket)
                    if series.watts[bucket] != nil { points += 1 }
                }
            }
            flush()
            svg += """
                <path class="series counted" data-series="\(series.id)" data-points="\(points)" \
                fill="\(palette[index % palette.count])" d="\(path)"><title>\(series.name) \
                (\(series.id), counted)</title></path>

                """
            for bucket in 0..<count { lower[bucket] += series.watts[bucket] ?? 0 }
        }
        // The extremes of the sampling intervals inside each bucket.
        var whiskers = ""
        for bucket in 0..<count {
            guard let low = timeline.countedMinWatts[bucket], let high = timeline.countedMaxWatts[bucket],
                high > low
            else { continue }
            let x = coordinate(frame.x(start(bucket) + width / 2))
            whiskers += "M\(x),\(coordinate(frame.y(high)))V\(coordinate(frame.y(low)))"
        }
        if !whiskers.isEmpty {
            svg += """
                <path class="extremes" d="\(whiskers)"><title>lowest and highest counted power of the sampling \
                intervals in each bucket</title></path>

                """
        }
        // Other domains, as lines.
        for (index, series) in beside.enumerated() {
            var path = ""
            var points = 0
            var open = false
            for bucket in 0..<count {
                guard let watts = series.watts[bucket] else {
                    open = false
                    continue
                }
                points += 1
                let y = coordinate(frame.y(watts))
                if dense {
                    path += (open ? "L" : "M") + "\(coordinate(frame.x(start(bucket) + width / 2))),\(y)"
                } else {
                    path +=
                        (open ? "L" : "M")
                        + "\(coordinate(frame.x(start(bucket)))),\(y)L\(coordinate(frame.x(start(bucket) + width))),\(y)"
                }
                open = true
            }
            svg += """
                <path class="series beside" data-series="\(series.id)" data-points="\(points)" \
                stroke="\(besidePalette[index % besidePalette.count])" d="\(path)"><title>\(series.name) \
                (\(series.id), not counted)</title></path>

                """
        }
        for event in report.events {
            let x = number(frame.x(event.at.timeIntervalSince(report.startedAt)))
            svg += """
                <line class="event" data-event="\(event.name)" x1="\(x)" x2="\(x)" \
                y1="\(number(frame.top))" y2="\(number(frame.height - frame.bottom))"><title>\(event.name)\
                </title></line>

                """
        }
        svg += "</svg>\n"

        var legend: HTML = "<ul class=\"legend\">"
        for (index, series) in counted.enumerated() {
            legend += """
                <li><span class="swatch" style="background:\(palette[index % palette.count])"></span>\
                \(series.name) <small>(\(series.id), counted, stacked)</small></li>
                """
        }
        for (index, series) in beside.enumerated() {
            legend += """
                <li><span class="swatch dashed" style="border-color:\(besidePalette[index % besidePalette.count])">\
                </span>\(series.name) <small>(\(series.id), not counted)</small></li>
                """
        }
        legend += "<li><span class=\"swatch whisker\"></span>min–max of the sampling intervals in a bucket</li>"
        if !report.phases.isEmpty { legend += "<li><span class=\"swatch phase-swatch\"></span>phases</li>" }
        legend += "</ul>\n"
        return """
            <section><h2>Power over time</h2>
            <figure>\(svg)<figcaption>Counted power in \(count) bucket(s) of \(Quantity.duration(width)); \
            energy in the timeline \(Quantity.energy(timeline.countedJoules)) \
            (report total \(report.energy.joules.map(Quantity.energy) ?? "not measured")).</figcaption></figure>
            \(legend)\(timelineTable(report, timeline))</section>

            """
    }

    static func timelineDescription(_ report: Report, _ timeline: Report.Timeline) -> String {
        let values = timeline.countedWatts.compactMap { $0 }
        var text =
            "Counted power of \(timeline.series.filter(\.counted).map(\.name).joined(separator: ", ")) over "
            + "\(Quantity.duration(report.durationSeconds))"
        if let low = values.min(), let high = values.max() {
            text += ": bucket means from \(Quantity.power(low)) to \(Quantity.power(high))"
        }
        if let mean = report.power.meanWatts { text += ", mean \(Quantity.power(mean))" }
        if let peak = timeline.countedMaxWatts.compactMap({ $0 }).max() {
            text += ", highest sampling interval \(Quantity.power(peak))"
        }
        text += "."
        let top = report.phases.filter { $0.parent == nil }
        if !top.isEmpty {
            text +=
                " Phases: "
                + top.prefix(20).map { "\($0.name) \(Quantity.duration($0.seconds))" }.joined(separator: ", ") + "."
        }
        return text
    }

    /// The timeline as a table (at most 120 rows, neighbours merged), the chart's text alternative.
    static func timelineTable(_ report: Report, _ timeline: Report.Timeline) -> HTML {
        let count = timeline.seconds.count
        let group = max(1, (count + 119) / 120)
        var rows = HTML.empty
        for span in timeline.merged(atMost: 120) {
            rows += """
                <tr><td>\(Quantity.fixed(max(0, span.from), 1))</td>\
                <td>\(span.seconds > 0 ? Quantity.power(span.joules / span.seconds) : "no sample")</td>\
                <td>\(span.lowest.map(Quantity.power) ?? "–")</td><td>\(span.highest.map(Quantity.power) ?? "–")</td>\
                <td>\(Quantity.energy(span.joules))</td></tr>

                """
        }
        return """
            <details><summary>Timeline data (\(count) buckets\(group > 1 ? ", shown \(group) per row" : ""))</summary>
            <table class="data"><thead><tr><th>from (s)</th><th>counted power</th><th>lowest interval</th>\
            <th>highest interval</th><th>energy</th></tr></thead><tbody>
            \(rows)</tbody></table></details>

            """
    }

    /// A vertical grid line from `top` to `bottom` at `x`, labelled below.
    static func verticalGridLine(at x: Double, from top: Double, to bottom: Double, label: String) -> HTML {
        """
        <line class="grid" x1="\(number(x))" x2="\(number(x))" y1="\(number(top))" \
        y2="\(number(bottom))"/><text class="axis" x="\(number(x))" \
        y="\(number(bottom + 16))" text-anchor="middle">\(label)</text>

        """
    }
}
