// The threads of the runtime's parallel regions: a Swift face on pc_pool.c, with one setting
// (`--threads`) and work split into contiguous ranges, so each output is computed by the same
// code whatever the thread count (results never depend on it).
//
// Why not Dispatch's concurrentPerform: it wakes its helper thread for every region. An int8
// ViT-B/32 pass has ~60 regions of 50-300 µs, and after the short serial steps between them the
// helper often started late, so two threads were barely faster than one. pc_pool.c's workers
// spin on one atomic word for ~2 ms after each job (then sleep), so a forward pass keeps them warm.

import CLIPKernelsC
import CLIPSupport

/// The threads one model's forward passes use (`--threads`): the calling thread plus
/// `threads − 1` workers that live as long as the pool.
///
///     let pool = WorkerPool(threads: 2)
///     pool.parallelRanges(rows, granularity: 4) { r in normalize(rows: r) }  // returns when all ranges are done
///
/// Thread safety: any number of threads may call `parallelRanges`/`parallelChunks` at once. The
/// workers take one job at a time: a call made while they are busy (from another thread, or
/// nested inside a part) runs all its chunks on the calling thread, in order. Either way each
/// chunk covers the same range, so results never depend on who ran it.
public final class WorkerPool: @unchecked Sendable {
    /// Threads used, ≥ 1, the calling thread included.
    public let threads: Int
    /// The C pool (nil for one thread); pc_pool_run is safe to call from any thread.
    private let workers: OpaquePointer?

    public init(threads: Int) {
        self.threads = max(1, threads)
        workers = self.threads > 1 ? pc_pool_create(Int32(clamping: self.threads)) : nil
    }

    deinit {
        if let workers { pc_pool_destroy(workers) }
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
        guard let file = fopen("/proc/self/status", "r") else { return online }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("Cpus_allowed:") else { continue }
            // Hex digits, with commas between 32-bit words; anything else counts no bits.
            let mask = text.dropFirst("Cpus_allowed:".count)
            let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16)?.nonzeroBitCount ?? 0) }
            return count > 0 ? min(count, online) : online
        }
        return online
    }

    /// Calls `body(range)` over `count` items split into at most `threads` contiguous ranges of
    /// whole multiples of `granularity` (except the last), and returns when all are done.
    public func parallelRanges(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, granularity: granularity) { _, range in body(range) }
    }

    /// Like `parallelRanges`, also passing the chunk's index (< `threads`), for per-worker scratch.
    public func parallelChunks(_ count: Int, granularity: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let units = (count + granularity - 1) / granularity
        let chunks = min(threads, max(1, units))
        if chunks <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        // Chunk c always covers the same range, whichever thread runs it: results never depend
        // on scheduling.
        run(parts: chunks) { c in
            let lo = units * c / chunks * granularity
            let hi = min(count, units * (c + 1) / chunks * granularity)
            if lo < hi { body(c, lo..<hi) }
        }
    }

    /// Calls `body(part)` once for each part in 0..<parts, spread over the threads (which thread
    /// runs a part is not fixed), and returns when all have finished.
    private func run(parts: Int, _ body: (Int) -> Void) {
        guard let workers else {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = Job(body: body)
            withUnsafeMutablePointer(to: &job) { job in
                pc_pool_run(workers, Int64(parts), { context, part in
                    context!.assumingMemoryBound(to: Job.self).pointee.body(Int(part))
                }, job)
            }
        }
    }
}

/// What the C trampoline calls: read-only while the job runs, so threads share it safely.
private struct Job {
    let body: (Int) -> Void
}
