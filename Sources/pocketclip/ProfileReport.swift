// What `pocketclip profile` prints and writes: the per-stage table, its JSON, a Chrome
// trace-event file and an SVG bar chart, all from the recorded runs.

import CLIPRuntime
import CLIPSupport

/// The timed runs of one tower ("image" or "text") and their per-stage statistics.
struct ProfileSection {
    struct Stage {
        let stage: ProfileStage
        /// Milliseconds in each timed run.
        let ms: [Double]
        let operations: Double?
        var medianMs: Double { median(ms) }
        var meanMs: Double { mean(ms) }
        var p90Ms: Double { percentile(ms, 0.9) }
        /// Giga-operations per second at the median time (nil for stages without matmuls).
        var gops: Double? {
            guard let operations, operations > 0, medianMs > 0 else { return nil }
            return operations / medianMs / 1e6
        }
    }

    let title: String
    let records: [RunRecord]
    let stages: [Stage]

    init(title: String, records: [RunRecord], operations: [ProfileStage: Double]) {
        self.title = title
        self.records = records
        // Stage order: as the first run met them; each stage occurs once per run.
        let order = records.first?.intervals.map(\.stage) ?? []
        stages = order.map { stage in
            Stage(stage: stage,
                  ms: records.map { r in Double(r.intervals.first { $0.stage == stage }?.nanoseconds ?? 0) / 1e6 },
                  operations: operations[stage])
        }
    }

    var totals: [Double] { records.map(\.totalMs) }
    /// Per run: the whole run minus the sum of its stages (time between the last lap and the end).
    var remainders: [Double] { records.map { $0.totalMs - $0.stagesMs } }
    var operations: Double { stages.reduce(0) { $0 + ($1.operations ?? 0) } }
}

struct SweepRow {
    let threads: Int
    let peak: Int8Peak.Result
    var imageMs: Double?
    var textMs: Double?
}

struct ProfileReport {
    let model: String
    let image: String?
    let text: String?
    let threads: Int
    let runs: Int
    let warmup: Int
    let peak: Int8Peak.Result
    let sections: [ProfileSection]
    let sweep: [SweepRow]
    let peakRSS: Int

    // MARK: Table

    func table() -> String {
        var lines: [String] = []
        var subject: [String] = []
        if let image { subject.append("image \(image)") }
        if let text { subject.append("text \"\(text)\"") }
        lines.append("\(model): \(threads) thread(s), \(runs) runs after \(warmup) warm-up; \(subject.joined(separator: ", "))")
        lines.append("int8 peak: \(decimal(peak.gops, 1)) GOP/s — \(peak.what)")
        let nameWidth = max(24, sections.flatMap { $0.stages.map { $0.stage.description.count } }.max() ?? 0) + 2
        func row(_ cells: [String]) -> String {
            pad(cells[0], nameWidth) + cells.dropFirst().map { padLeft($0, 10) }.joined()
        }
        for section in sections {
            let total = median(section.totals)
            lines.append("")
            // Shares are of the mean: means add up (Σ stage means + unaccounted = mean total), medians need not.
            let meanTotal = mean(section.totals)
            lines.append(row([section.title, "median ms", "p90 ms", "mean ms", "share", "GOP/s", "% peak"]))
            for s in section.stages {
                lines.append(row([s.stage.description, decimal(s.medianMs, 3), decimal(s.p90Ms, 3), decimal(s.meanMs, 3),
                                  decimal(100 * s.meanMs / meanTotal, 1) + "%",
                                  s.gops.map { decimal($0, 1) } ?? "-", s.gops.map { decimal(100 * $0 / peak.gops, 1) + "%" } ?? "-"]))
            }
            let remainder = section.remainders
            lines.append(row(["(unaccounted)", decimal(median(remainder), 3), decimal(percentile(remainder, 0.9), 3),
                              decimal(mean(remainder), 3), decimal(100 * mean(remainder) / meanTotal, 1) + "%", "", ""]))
            let gops = section.operations / total / 1e6
            lines.append(row(["total", decimal(total, 3), decimal(percentile(section.totals, 0.9), 3), decimal(meanTotal, 3), "100.0%",
                              decimal(gops, 1), decimal(100 * gops / peak.gops, 1) + "%"]))
        }
        lines.append("")
        lines.append("peak RSS (whole run): \(formatBytes(peakRSS))")
        if !sweep.isEmpty {
            lines.append("")
            lines.append(pad("threads", 8) + padLeft("image median ms", 17) + padLeft("text median ms", 16) + padLeft("int8 peak GOP/s", 17))
            for r in sweep {
                lines.append(pad("\(r.threads)", 8) + padLeft(r.imageMs.map { decimal($0, 3) } ?? "-", 17)
                             + padLeft(r.textMs.map { decimal($0, 3) } ?? "-", 16) + padLeft(decimal(r.peak.gops, 1), 17))
            }
        }
        return lines.joined(separator: "\n")
    }

    // MARK: JSON

    func json() -> String {
        func list(_ v: [Double]) -> String { "[" + v.map(jsonNumber).joined(separator: ", ") + "]" }
        let sectionText = sections.map { section -> String in
            let total = median(section.totals)
            // share: of the mean total, from the stage's mean (means add up; medians need not).
            let stages = section.stages.map { s in
                "{\"name\": \(jsonQuoted(s.stage.description)), \"median_ms\": \(jsonNumber(s.medianMs)), \"p90_ms\": \(jsonNumber(s.p90Ms)), \"mean_ms\": \(jsonNumber(s.meanMs)), \"share\": \(jsonNumber(s.meanMs / mean(section.totals))), \"operations\": \(s.operations.map(jsonNumber) ?? "null"), \"gops\": \(s.gops.map(jsonNumber) ?? "null"), \"ms\": \(list(s.ms))}"
            }
            return "\(jsonQuoted(section.title)): {\"median_ms\": \(jsonNumber(total)), \"p90_ms\": \(jsonNumber(percentile(section.totals, 0.9))), \"total_ms\": \(list(section.totals)), \"stages_sum_ms\": \(list(section.records.map(\.stagesMs))), \"unaccounted_ms\": \(list(section.remainders)), \"stages\": [\n    \(stages.joined(separator: ",\n    "))]}"
        }
        let sweepText = sweep.map {
            "{\"threads\": \($0.threads), \"image_median_ms\": \($0.imageMs.map(jsonNumber) ?? "null"), \"text_median_ms\": \($0.textMs.map(jsonNumber) ?? "null"), \"int8_peak_gops\": \(jsonNumber($0.peak.gops))}"
        }
        var fields = [
            "\"model\": \(jsonQuoted(model))",
            "\"threads\": \(threads)", "\"runs\": \(runs)", "\"warmup\": \(warmup)",
            "\"int8_peak\": {\"gops\": \(jsonNumber(peak.gops)), \"measured\": \(jsonQuoted(peak.what))}",
            "\"peak_rss_bytes\": \(peakRSS)",
            "\"threads_sweep\": [\(sweepText.joined(separator: ", "))]",
        ]
        if let image { fields.append("\"image\": \(jsonQuoted(image))") }
        if let text { fields.append("\"text\": \(jsonQuoted(text))") }
        fields.append("\"sections\": {\n  \(sectionText.joined(separator: ",\n  "))}")
        return "{" + fields.joined(separator: ",\n") + "}"
    }

    // MARK: Trace

    /// Chrome trace-event format (the JSON object form): metadata ("M") events naming the
    /// tracks, one complete ("X") event per run, and one per stage nested inside it; times in
    /// microseconds from `origin`.
    func traceJSON(origin: UInt64) -> String {
        func micros(_ ns: UInt64) -> String {
            let frac = String(ns % 1000)
            return "\(ns / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
        }
        func event(_ name: String, _ category: String, _ start: UInt64, _ end: UInt64, tid: Int, args: String) -> String {
            "{\"name\": \(jsonQuoted(name)), \"cat\": \(jsonQuoted(category)), \"ph\": \"X\", \"ts\": \(micros(start - origin)), \"dur\": \(micros(end - start)), \"pid\": 1, \"tid\": \(tid), \"args\": \(args)}"
        }
        var events: [String] = []
        // Metadata events name the tracks ("image", "text") in Perfetto and chrome://tracing.
        events.append("{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 0, \"args\": {\"name\": \"pocketclip profile\"}}")
        for (t, section) in sections.enumerated() {
            events.append("{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": \(t + 1), \"args\": {\"name\": \(jsonQuoted(section.title))}}")
        }
        for (t, section) in sections.enumerated() {
            for (i, r) in section.records.enumerated() {
                events.append(event("\(section.title) run \(i)", "run", r.start, r.end, tid: t + 1, args: "{\"run\": \(i)}"))
                for interval in r.intervals {
                    events.append(event(interval.stage.description, interval.stage.kind.rawValue, interval.start, interval.end,
                                        tid: t + 1, args: "{\"run\": \(i)}"))
                }
            }
        }
        return "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n" + events.joined(separator: ",\n") + "\n]}\n"
    }

    // MARK: Chart

    /// A horizontal bar per stage (median ms), one group per section, standalone SVG.
    func chartSVG() -> String {
        let barHeight = 14, gap = 4, labelWidth = 230, barWidth = 460, valueWidth = 90, top = 40
        let rows = sections.reduce(0) { $0 + $1.stages.count + 2 }
        let height = top + rows * (barHeight + gap) + 20, width = labelWidth + barWidth + valueWidth
        let longest = sections.flatMap { $0.stages.map(\.medianMs) }.max() ?? 1
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="8" y="18" font-size="14">\(xmlEscape("pocketclip profile: median ms per stage, \(threads) thread(s), \(runs) runs"))</text>
            <text x="8" y="32" fill="#555">\(xmlEscape(model))</text>

            """
        var y = top
        let colors: [ProfileStage.Kind: String] = [.attention: "#4c72b0", .mlp: "#dd8452", .embed: "#55a868", .head: "#8172b3"]
        for section in sections {
            y += barHeight + gap
            out += "<text x=\"8\" y=\"\(y)\" font-weight=\"bold\">\(xmlEscape("\(section.title): \(decimal(median(section.totals), 2)) ms median"))</text>\n"
            for s in section.stages {
                y += barHeight + gap
                let w = max(1, Int(Double(barWidth) * s.medianMs / max(longest, 1e-9)))
                out += "<text x=\"\(labelWidth - 6)\" y=\"\(y)\" text-anchor=\"end\">\(xmlEscape(s.stage.description))</text>"
                out += "<rect x=\"\(labelWidth)\" y=\"\(y - barHeight + 3)\" width=\"\(w)\" height=\"\(barHeight - 2)\" fill=\"\(colors[s.stage.kind] ?? "#937860")\"/>"
                out += "<text x=\"\(labelWidth + w + 4)\" y=\"\(y)\">\(decimal(s.medianMs, 3)) ms</text>\n"
            }
            y += gap
        }
        return out + "</svg>\n"
    }
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
func padLeft(_ s: String, _ width: Int) -> String { s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s }

func xmlEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}
