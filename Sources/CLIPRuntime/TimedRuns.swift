// Timed runs of the whole path a user takes — decode → preprocess → vision encoder, or
// tokenize → text encoder — each as a partition of stages on StageTimer's clock, plus the
// process figures a benchmark reports beside them (CPU time, peak RSS, /proc/self/status) and
// the statistics it prints (median, p90). `pocketclip profile` and `bench` are built on these.

import CLIPFormat
import CLIPImage
import CLIPKernels
import CLIPSupport
import CLIPTokenizer

/// decode → preprocess → vision encoder, timed as one run.
public struct ImageRunner {
    public let path: String
    public let model: CLIPModel
    public let vision: VisionEncoder

    public init(path: String, model: CLIPModel, vision: VisionEncoder) {
        self.path = path
        self.model = model
        self.vision = vision
    }

    public func run(pool: WorkerPool, timer: StageTimer?) throws -> (UInt64, UInt64) {
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
public struct TextRunner {
    public let text: String
    public let tokenizer: CLIPTokenizer
    public let encoder: TextEncoder

    public init(text: String, tokenizer: CLIPTokenizer, encoder: TextEncoder) {
        self.text = text
        self.tokenizer = tokenizer
        self.encoder = encoder
    }

    public func run(pool: WorkerPool, timer: StageTimer?) throws -> (UInt64, UInt64) {
        let start = StageTimer.now()
        timer?.start(at: start)
        let tokens = try tokenizer.tokenize(text, truncate: true, context: encoder.config.text.contextLength)
        timer?.lap(ProfileStage(.text, .tokenize))
        _ = try encoder.encode(tokens: tokens, pool: pool, timer: timer)
        return (start, StageTimer.now())
    }
}

/// One timed run: its start and end on StageTimer's clock and the stages it went through.
public struct RunRecord {
    public let start: UInt64
    public let end: UInt64
    public let intervals: [StageTimer.Interval]

    public init(start: UInt64, end: UInt64, intervals: [StageTimer.Interval]) {
        self.start = start
        self.end = end
        self.intervals = intervals
    }
    public var totalMs: Double { Double(end - start) / 1e6 }
    public var stagesMs: Double { Double(intervals.reduce(0) { $0 + $1.nanoseconds }) / 1e6 }
}

/// Wall-clock and CPU milliseconds of `runs` calls of a body, after `warmup` untimed ones.
public struct TimedRuns {
    public let wallMs: [Double]
    public let cpuMs: [Double]

    public init(warmup: Int, runs: Int, _ body: () throws -> Void) rethrows {
        var wall: [Double] = [], cpu: [Double] = []
        for i in 0..<(warmup + runs) {
            let start = monotonicSeconds(), cpuStart = processCPUSeconds()
            try body()
            if i >= warmup {
                wall.append((monotonicSeconds() - start) * 1000)
                cpu.append((processCPUSeconds() - cpuStart) * 1000)
            }
        }
        wallMs = wall
        cpuMs = cpu
    }
}

/// The value below which a fraction `p` of `values` lie (the nearest-rank percentile).
public func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

public func median(_ values: [Double]) -> Double {
    let s = values.sorted(), c = s.count
    guard c > 0 else { return 0 }
    return c % 2 == 1 ? s[c / 2] : (s[c / 2 - 1] + s[c / 2]) / 2
}

public func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }

/// CPU time this process has used, all threads (immune to other jobs stealing the core).
public func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Peak resident set size of this process (ru_maxrss, KiB on Linux).
public func peakRSSBytes() -> Int {
    var ru = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
    return Int(ru.ru_maxrss) * 1024
}

/// The "kB" fields of /proc/self/status, in bytes (empty where there is no /proc).
public func processStatus() -> [String: Int] {
    guard let bytes = readUntilEnd("/proc/self/status") else { return [:] }
    let text = String(decoding: bytes, as: UTF8.self)
    var out: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
        if parts.count == 3, parts[2] == "kB", let v = Int(parts[1]) { out[String(parts[0])] = v * 1024 }
    }
    return out
}

/// What loading every tensor of a .pclip file costs, as a board would load it (int8 kept as
/// int8, raw tensors mapped in place): decoded (owned) and mapped bytes, the process's peak RSS,
/// and its resident anonymous and file-backed memory once loaded.
public struct LoadedMemory: Sendable {
    public let decoded: Int, mapped: Int, peakRSS: Int, rssAnon: Int, rssFile: Int

    /// Decodes every tensor of `f`, holds them all while measuring, then lets them go.
    public static func measure(_ f: PclipFile) throws -> LoadedMemory {
        var kept: [PclipTensorData] = []
        var decoded = 0, mapped = 0
        for t in f.tensors {
            let d = try f.data(t.name)
            if d.isMapped { mapped += t.decodedSize } else { decoded += t.decodedSize }
            kept.append(d)
        }
        let status = processStatus()
        let m = LoadedMemory(decoded: decoded, mapped: mapped, peakRSS: peakRSSBytes(),
                             rssAnon: status["RssAnon"] ?? 0, rssFile: status["RssFile"] ?? 0)
        withExtendedLifetime(kept) {}
        return m
    }
}
