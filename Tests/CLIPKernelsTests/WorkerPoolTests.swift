// Holds WorkerPool (pc_pool.c) to its contract: every item runs exactly once per call, in chunks
// of the same ranges whatever runs them, calls do not mix, a call from inside a chunk or from a
// second thread runs inline instead of deadlocking, and workers that went to sleep come back for
// the next call.
import CLIPKernels
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class WorkerPoolTests: XCTestCase {
    /// Runs one call over `count` items and returns how often each item ran.
    private func counts(_ pool: WorkerPool, count: Int) -> [Int] {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        hits.initialize(repeating: 0, count: count)
        defer { hits.deallocate() }
        pool.parallelRanges(count) { range in for i in range { hits[i] += 1 } }  // each range owns its slots
        return Array(UnsafeBufferPointer(start: hits, count: count))
    }

    func testEveryItemRunsOnceForManyCalls() {
        for threads in 1...3 {
            let pool = WorkerPool(threads: threads)
            for round in 0..<500 {
                let count = 1 + round % 9
                XCTAssertEqual(counts(pool, count: count), [Int](repeating: 1, count: count), "threads \(threads) round \(round)")
            }
        }
    }

    func testChunksAreContiguousWholeGranulesOnePerThread() {
        let pool = WorkerPool(threads: 3)
        var ranges = [Range<Int>?](repeating: nil, count: 3)
        ranges.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            pool.parallelChunks(10, granularity: 4) { chunk, range in base[chunk] = range }
        }
        XCTAssertEqual(ranges, [0..<4, 4..<8, 8..<10])
    }

    func testNestedCallRunsInline() {
        let pool = WorkerPool(threads: 2)
        var inner = [Int](repeating: 0, count: 2)
        inner.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            pool.parallelChunks(2) { chunk, _ in
                base[chunk] = self.counts(pool, count: 4).reduce(0, +)
            }
        }
        XCTAssertEqual(inner, [4, 4])
    }

    func testWorkersWakeAfterSleeping() {
        let pool = WorkerPool(threads: 2)
        XCTAssertEqual(counts(pool, count: 2), [1, 1])
        // Longer than the workers' spin, so they are normally asleep now. Not a race: if a
        // preempted worker is still spinning, the next call finds it awake and the counts are the
        // same; only the wake-up path would go unexercised on that run.
        usleep(10_000)
        XCTAssertEqual(counts(pool, count: 5), [1, 1, 1, 1, 1])
    }

    func testTwoCallersShareOnePool() {
        let pool = WorkerPool(threads: 2)
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        failures.initialize(repeating: 0, count: 2)
        defer { failures.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<200 where self.counts(pool, count: 3) != [1, 1, 1] { failures[caller] += 1 }
        }
        XCTAssertEqual(failures[0] + failures[1], 0)
    }

    func testThreadLimits() {
        XCTAssertGreaterThanOrEqual(WorkerPool.availableCores, 1)
        XCTAssertEqual(WorkerPool.maxThreads, min(256, 4 * WorkerPool.availableCores))
        XCTAssertEqual(WorkerPool(threads: 0).threads, 1)
    }
}
