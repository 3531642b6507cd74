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

