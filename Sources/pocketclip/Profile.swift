// `pocketclip profile`: where one image (and one text) spends its time, stage by stage.
//
// Each run is timed as a partition (CLIPRuntime's StageTimer: decode, preprocess, embed, every
// block's attention and MLP, head; for text: tokenize, embed, blocks, head) and as a whole on
// the same clock, so the stages add up to the total and the remainder is printed. GOP/s per
// stage is compared with the machine's own int8 peak, measured first by a GEMM micro-benchmark.
// Outputs: a table (or --json), a Chrome trace-event file (--trace) and an SVG bar chart (--chart).

import ArgumentParser
import CLIPImage
import CLIPKernels
import CLIPRuntime
import CLIPSupport
import CLIPTokenizer

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time each stage of the image and text encoders (median, p90, share, GOP/s).",
        discussion: """
            Runs --warmup untimed passes, then --runs timed ones. An image pass is decode → \
            preprocess → embed → each block's attention and MLP → head; a text pass is tokenize → \
            embed → blocks → head. Prints per stage the median and p90 milliseconds, the share of \
            the whole run, and GOP/s against the int8 peak of this machine, which a built-in \
            GEMM micro-benchmark measures first (~0.3 s). Also the peak RSS of the whole run.

            Examples:
              pocketclip profile vit-b32.pclip --image cat.png --runs 20
              pocketclip profile vit-b32.pclip --threads-sweep 1,2 --trace trace.json --chart layers.svg
              pocketclip profile vit-b32.pclip --tower vision --json
            Open the trace in https://ui.perfetto.dev or chrome://tracing.
            """)

    enum TowerChoice: String, ExpressibleByArgument { case both, vision, text }

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("The image (default: examples/images/sneaker.png if it exists).", valueName: "path"))
    var image: String?

    @Option(help: "The text.")
    var text: String = "a photo of a sneaker."

    @Option(help: "Which encoder to profile: both, vision or text.")
    var tower: TowerChoice = .both

    @Option(help: "Timed runs.")
    var runs: Int = 20

    @Option(help: "Untimed runs first.")
    var warmup: Int = 3

    @Option(name: .customLong("threads-sweep"),
            help: ArgumentHelp("Also time whole runs at these thread counts, e.g. 1,2.", valueName: "list"))
    var threadsSweep: String?

    @Option(help: ArgumentHelp("Write a Chrome trace-event file (Perfetto, chrome://tracing).", valueName: "path"))
    var trace: String?

    @Option(help: ArgumentHelp("Write an SVG bar chart of the median time per stage.", valueName: "path"))
    var chart: String?

    @Flag(help: "Print JSON.")
    var json = false

    /// The image profiled when --image is not given (the default model's example, from the repository root).
    static let defaultImage = "examples/images/sneaker.png"

    func validate() throws {
        if runs < 1 || warmup < 0 { throw ValidationError("--runs must be positive, --warmup not negative") }
        _ = try sweepCounts()
    }

    func sweepCounts() throws -> [Int] {
        guard let threadsSweep else { return [] }
        return try threadsSweep.split(separator: ",").map {
            guard let n = Int(String($0).trimmingWhitespace()), n >= 1, n <= 256 else {
                throw ValidationError("--threads-sweep expects thread counts 1...256 separated by commas (e.g. 1,2), got '\(threadsSweep)'")
            }
            return n
        }
    }

    func run() throws {
        try reportingErrors {
            let towers: Towers = tower == .both ? .both : tower == .vision ? .vision : .text
            let model = try modelOptions.load(towers: towers)
            var imagePath: String?
            if towers.vision {
                if let image {
                    imagePath = image
                } else if access(Self.defaultImage, R_OK) == 0 {
                    imagePath = Self.defaultImage
                } else {
                    throw CLIError("no --image given and \(Self.defaultImage) is not here; pass --image PATH")
                }
            }
            let peak = Int8Peak.measure(pool: model.pool)
            let origin = StageTimer.now()
            var sections: [ProfileSection] = []
            if let imagePath, let vision = model.vision {
                let runner = ImageRunner(path: imagePath, model: model, vision: vision)
                let records = try record { try runner.run(pool: model.pool, timer: $0) }
                sections.append(ProfileSection(title: "image", records: records, operations: vision.stageOperations(batch: 1)))
            }
            if towers.text, let encoder = model.text, let tokenizer = model.tokenizer {
                let runner = TextRunner(text: text, tokenizer: tokenizer, encoder: encoder)
                let records = try record { try runner.run(pool: model.pool, timer: $0) }
                let tokens = try tokenizer.tokenize(text, truncate: true, context: encoder.config.text.contextLength)
                sections.append(ProfileSection(title: "text", records: records, operations: encoder.stageOperations(tokens: tokens)))
            }
            if towers.text, tower == .text || model.vision == nil, model.text == nil || model.tokenizer == nil {
                throw CLIError("\(modelOptions.model) has no text tower with a tokenizer to profile; pass --tokenizer PATH or profile --tower vision")
            }
            guard !sections.isEmpty else { throw CLIError("\(modelOptions.model) has no tower to profile") }
            let sweep = try sweepCounts().map { n -> SweepRow in
                let pool = WorkerPool(threads: n)
                var row = SweepRow(threads: n, peak: Int8Peak.measure(pool: pool))
                if let imagePath, let vision = model.vision {
                    let runner = ImageRunner(path: imagePath, model: model, vision: vision)
                    row.imageMs = try median(record { _ in try runner.run(pool: pool, timer: nil) }.map(\.totalMs))
                }
                if towers.text, let encoder = model.text, let tokenizer = model.tokenizer {
                    let runner = TextRunner(text: text, tokenizer: tokenizer, encoder: encoder)
                    row.textMs = try median(record { _ in try runner.run(pool: pool, timer: nil) }.map(\.totalMs))
                }
                return row
            }
            let report = ProfileReport(model: modelOptions.model, image: imagePath, text: towers.text ? text : nil,
                                       threads: model.pool.threads, runs: runs, warmup: warmup, peak: peak,
                                       sections: sections, sweep: sweep, peakRSS: peakRSSBytes())
            if let trace { try AtomicFileWriter.write(Array(report.traceJSON(origin: origin).utf8), to: trace) }
            if let chart { try AtomicFileWriter.write(Array(report.chartSVG().utf8), to: chart) }
            print(json ? report.json() : report.table())
        }
    }

    /// Warm-up plus timed runs of `body`, which returns a run's start and end; a fresh timer each
    /// timed run.
    private func record(_ body: (StageTimer?) throws -> (UInt64, UInt64)) throws -> [RunRecord] {
        var records: [RunRecord] = []
        for i in 0..<(warmup + runs) {
            let timer = StageTimer()
            let (start, end) = try body(timer)
            if i >= warmup { records.append(RunRecord(start: start, end: end, intervals: timer.intervals)) }
        }
        return records
    }
}

// MARK: - The report: table, JSON, Chrome trace and SVG chart from the recorded runs

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
