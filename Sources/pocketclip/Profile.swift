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
                    throw ValidationError("no --image given and \(Self.defaultImage) is not here; pass --image PATH")
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
                throw ValidationError("\(modelOptions.model) has no text tower with a tokenizer to profile; pass --tokenizer PATH or profile --tower vision")
            }
            guard !sections.isEmpty else { throw ValidationError("\(modelOptions.model) has no tower to profile") }
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

// MARK: - One run

/// decode → preprocess → vision encoder, timed as one run.
struct ImageRunner {
    let path: String
    let model: CLIPModel
    let vision: VisionEncoder

    func run(pool: WorkerPool, timer: StageTimer?) throws -> (UInt64, UInt64) {
        let start = StageTimer.now()
        timer?.start(at: start)
        let decoded = try ImageDecoder.decode(path: path)
        timer?.lap(ProfileStage(.vision, .decode))
        let pixels = try Preprocessor.pixels(decoded, config: model.preprocess)
        timer?.lap(ProfileStage(.vision, .preprocess))
        _ = try vision.encode(batch: [pixels], pool: pool, timer: timer)
        return (start, StageTimer.now())
    }
}

/// tokenize → text encoder, timed as one run.
struct TextRunner {
    let text: String
    let tokenizer: CLIPTokenizer
    let encoder: TextEncoder

    func run(pool: WorkerPool, timer: StageTimer?) throws -> (UInt64, UInt64) {
        let start = StageTimer.now()
        timer?.start(at: start)
        let tokens = try tokenizer.tokenize(text, truncate: true, context: encoder.config.text.contextLength)
        timer?.lap(ProfileStage(.text, .tokenize))
        _ = try encoder.encode(tokens: tokens, pool: pool, timer: timer)
        return (start, StageTimer.now())
    }
}

struct RunRecord {
    let start: UInt64
    let end: UInt64
    let intervals: [StageTimer.Interval]
    var totalMs: Double { Double(end - start) / 1e6 }
    var stagesMs: Double { Double(intervals.reduce(0) { $0 + $1.nanoseconds }) / 1e6 }
}

// MARK: - The int8 peak

/// The machine's own int8 GEMM rate: matmuls through `gemmQ8` (the runtime's kernel,
/// pc_gemm_q8), columns split across the pool as the runtime splits them, repeated for ~0.3 s
/// in all. Two shapes: a square one, and ViT-B/32's MLP output matmul (50 rows, k = 3072),
/// the fastest of the block shapes tried; the peak is the faster shape's best call (the best
/// call, not the mean, so another process stealing the core lowers it less).
enum Int8Peak {
    static let shapes: [(m: Int, n: Int, k: Int)] = [(768, 768, 768), (50, 768, 3072)]
    static let seconds = 0.3

    struct Result {
        let gops: Double
        let threads: Int
        let shape: (m: Int, n: Int, k: Int)
        let calls: Int
        var what: String {
            "best call of \(calls) int8 GEMMs m×n×k = \(shape.m)×\(shape.n)×\(shape.k) (gemmQ8 → pc_gemm_q8, \(KernelISA.current.name)), \(threads) thread(s), 2·m·n·k ops"
        }
    }

    static func measure(pool: WorkerPool) -> Result {
        var best: Result?
        for shape in shapes {
            let r = measure(shape, pool: pool, seconds: seconds / Double(shapes.count))
            if best == nil || r.gops > best!.gops { best = r }
        }
        return best!
    }

    static func measure(_ shape: (m: Int, n: Int, k: Int), pool: WorkerPool, seconds: Double) -> Result {
        let (m, n, k) = shape
        // Deterministic pseudo-random operands: the rate does not depend on the values.
        var state: UInt32 = 12345
        func next() -> Int8 { state = state &* 1_103_515_245 &+ 12345; return Int8(Int((state >> 16) % 255) - 127) }
        let weights = (0..<(n * k)).map { _ in next() }
        let scales = [Float](repeating: 0.01, count: n)
        let matrix = weights.withUnsafeBufferPointer { w in
            scales.withUnsafeBufferPointer { s in
                // These shapes with group = k are always accepted.
                try! PackedQ8Matrix(weights: w.baseAddress!, scales: s.baseAddress!, n: n, k: k, group: k)
            }
        }
        let xq = (0..<(m * k)).map { _ in next() }
        let xs = [Float](repeating: 0.01, count: m), xz = [Int32](repeating: 128, count: m)
        var y = [Float](repeating: 0, count: m * n)
        var calls = 0
        var fastest = UInt64.max
        let start = StageTimer.now()
        xq.withUnsafeBufferPointer { q in
            xs.withUnsafeBufferPointer { s in
                xz.withUnsafeBufferPointer { z in
                    y.withUnsafeMutableBufferPointer { yb in
                        let yp = yb.baseAddress!
                        var now = start
                        repeat {
                            let t0 = now
                            pool.parallelChunks(pool.threads) { part, _ in
                                let columns = matrix.columnSplit(part, of: pool.threads)
                                if !columns.isEmpty {
                                    gemmQ8(q.baseAddress!, xScales: s.baseAddress!, xZeroPoints: z.baseAddress!, matrix,
                                           bias: nil, yp, m: m, columns: columns)
                                }
                            }
                            now = StageTimer.now()
                            fastest = min(fastest, now - t0)
                            calls += 1
                        } while Double(now - start) / 1e9 < seconds
                    }
                }
            }
        }
        return Result(gops: 2 * Double(m * n * k) / Double(max(fastest, 1)), threads: pool.threads, shape: shape, calls: calls)
    }
}

// MARK: - Helpers

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted(), c = s.count
    guard c > 0 else { return 0 }
    return c % 2 == 1 ? s[c / 2] : (s[c / 2 - 1] + s[c / 2]) / 2
}

