// Persistent worker threads for the runtime's parallel regions: a Swift face on pc_pool.c.
//
// Dispatch's concurrentPerform wakes its helper thread for every region; an int8 ViT-B/32 pass
// has ~60 regions of 50-300 µs, and after the short serial steps between them the helper often
// started late, so two threads were barely faster than one. These workers spin on one atomic
// word for ~2 ms after each job (then sleep), so a forward pass keeps them warm.

import CLIPKernelsC

/// Runs `parts` calls of a closure across `threads` threads (the caller plus threads − 1
/// workers that live as long as the pool).
///
///     let pool = ThreadPool(threads: 2)
///     pool.run(parts: 2) { part in work(on: part) }   // returns when both parts are done
public final class ThreadPool: @unchecked Sendable {
    /// Threads a job runs on, ≥ 1, the caller included.
    public let threads: Int
    private let pool: OpaquePointer?

    public init(threads: Int) {
        self.threads = max(1, threads)
        pool = self.threads > 1 ? pc_pool_create(Int32(clamping: self.threads)) : nil
    }

    deinit {
        if let pool { pc_pool_destroy(pool) }
    }

    /// Calls `body(part)` once for each part in 0..<parts, spread over the threads, and returns
    /// when all have finished. Which thread runs a part is not fixed. A call made while the pool
    /// is busy (from inside a part, or from another thread) runs its parts on the calling thread.
    public func run(parts: Int, _ body: (Int) -> Void) {
        guard parts > 0 else { return }
        guard let pool, parts > 1 else {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = PoolJob(body: body)
            withUnsafeMutablePointer(to: &job) { ptr in
                pc_pool_run(pool, Int64(parts), { ctx, part in
                    ctx!.assumingMemoryBound(to: PoolJob.self).pointee.body(Int(part))
                }, ptr)
            }
        }
    }
}

/// What the C trampoline calls: read-only while the job runs, so threads share it safely.
private struct PoolJob {
    let body: (Int) -> Void
}
