// Holds ThreadPool (pc_pool.c) to its contract: every part runs exactly once per job, jobs do
// not mix, a call from inside a part or from a second thread runs inline instead of
// deadlocking, and workers that went to sleep come back for the next job.
import CLIPKernels
import CLIPSupport
import XCTest

final class ThreadPoolTests: XCTestCase {
    /// Runs a job of `parts` parts and returns how often each part ran.
    private func counts(_ pool: ThreadPool, parts: Int) -> [Int] {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: parts)
        hits.initialize(repeating: 0, count: parts)
        defer { hits.deallocate() }
        pool.run(parts: parts) { part in hits[part] += 1 }  // each part owns its slot
        return Array(UnsafeBufferPointer(start: hits, count: parts))
    }

    func testEveryPartRunsOnceForManyJobs() {
        for threads in 1...3 {
            let pool = ThreadPool(threads: threads)
            for round in 0..<500 {
                let parts = 1 + round % 9
                XCTAssertEqual(counts(pool, parts: parts), [Int](repeating: 1, count: parts), "threads \(threads) round \(round)")
            }
        }
    }

    func testNestedCallRunsInline() {
        let pool = ThreadPool(threads: 2)
        var inner = [Int](repeating: 0, count: 2)
        inner.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            pool.run(parts: 2) { part in
                base[part] = self.counts(pool, parts: 4).reduce(0, +)
            }
        }
        XCTAssertEqual(inner, [4, 4])
    }

    func testWorkersWakeAfterSleeping() {
        let pool = ThreadPool(threads: 2)
        XCTAssertEqual(counts(pool, parts: 2), [1, 1])
        // Longer than the workers' spin, so they are normally asleep now. Not a race: if a
        // preempted worker is still spinning, the next job finds it awake and the counts are the
        // same; only the wake-up path would go unexercised on that run.
        usleep(10_000)
        XCTAssertEqual(counts(pool, parts: 5), [1, 1, 1, 1, 1])
    }

    func testTwoCallersShareOnePool() {
        let pool = ThreadPool(threads: 2)
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        failures.initialize(repeating: 0, count: 2)
        defer { failures.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<200 where self.counts(pool, parts: 3) != [1, 1, 1] { failures[caller] += 1 }
        }
        XCTAssertEqual(failures[0] + failures[1], 0)
    }
}
