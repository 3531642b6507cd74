// The runtime's threads: one setting (`--threads`), work split in contiguous ranges so each
// output is computed by the same code whatever the thread count (results never depend on it).

import CLIPKernels
import CLIPSupport

/// The threads one model's forward passes use (`--threads`).
///
/// Thread safety: copies share one set of workers, and any number of threads may call
/// `parallelRanges`/`parallelChunks` at once. The workers take one job at a time: a call made
/// while they are busy (from another thread, or nested inside a part) runs all its chunks on the
/// calling thread, in order. Either way each chunk covers the same range, so results never depend
/// on who ran it.
public struct WorkerPool: Sendable {
    /// Threads used, ≥ 1. The calling thread takes part.
    public let threads: Int
    /// The persistent workers (nil for one thread); copies of a pool share them.
    private let runner: ThreadPool?

    public init(threads: Int) {
        self.threads = max(1, threads)
        runner = self.threads > 1 ? ThreadPool(threads: self.threads) : nil
    }

    /// One thread: everything inline.
    public static let single = WorkerPool(threads: 1)

    /// The most threads a pool should be asked for: 4 × `availableCores`, 256 at most. Past the
    /// cores, threads only add switching and stacks (1000 took 4 s and 105 MB where 2 took 0.24 s
    /// and 35 MB); a runaway number would exhaust the process's thread and memory limits.
    public static var maxThreads: Int { min(256, 4 * availableCores) }

    /// The cores this process may run on (the `Cpus_allowed` mask of /proc/self/status, which
    /// honours taskset and cgroup cpusets), else the online cores; at least 1.
    public static var availableCores: Int {
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        guard let bytes = readUntilEnd("/proc/self/status") else { return online }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            let mask = line.dropFirst("Cpus_allowed:".count)
            let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16)?.nonzeroBitCount ?? 0) }
            return count > 0 ? min(count, online) : online
        }
        return online
    }

    /// Calls `body(range)` over `count` items split into at most `threads` contiguous ranges of
    /// whole multiples of `granularity` (except the last).
    public func parallelRanges(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, granularity: granularity) { _, range in body(range) }
    }

    /// Like `parallelRanges`, also passing the chunk's index (< `threads`), for per-worker scratch.
    public func parallelChunks(_ count: Int, granularity: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let chunks = min(threads, max(1, (count + granularity - 1) / granularity))
        if chunks <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        let units = (count + granularity - 1) / granularity
        // Chunk c always covers the same range, whichever thread runs it: results never depend
        // on scheduling.
        runner!.run(parts: chunks) { c in
            let lo = units * c / chunks * granularity
            let hi = min(count, units * (c + 1) / chunks * granularity)
            if lo < hi { body(c, lo..<hi) }
        }
    }
}
