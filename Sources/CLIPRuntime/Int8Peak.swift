// The machine's own int8 GEMM rate, the yardstick `pocketclip profile` sets each stage's GOP/s
// against.

import CLIPKernels

/// The machine's own int8 GEMM rate: matmuls through `gemmQ8` (the runtime's kernel,
/// pc_gemm_q8), columns split across the pool as the runtime splits them, repeated for ~0.3 s
/// in all. Two shapes: a square one, and ViT-B/32's MLP output matmul (50 rows, k = 3072),
/// the fastest of the block shapes tried; the peak is the faster shape's best call (the best
/// call, not the mean, so another process stealing the core lowers it less).
public enum Int8Peak {
    public static let shapes: [(m: Int, n: Int, k: Int)] = [(768, 768, 768), (50, 768, 3072)]
    public static let seconds = 0.3

    public struct Result {
        public let gops: Double
        public let threads: Int
        public let shape: (m: Int, n: Int, k: Int)
        public let calls: Int
        public var what: String {
            "best call of \(calls) int8 GEMMs m×n×k = \(shape.m)×\(shape.n)×\(shape.k) (gemmQ8 → pc_gemm_q8, \(KernelISA.current.name)), \(threads) thread(s), 2·m·n·k ops"
        }
    }

    public static func measure(pool: WorkerPool) -> Result {
        var best: Result?
        for shape in shapes {
            let r = measure(shape, pool: pool, seconds: seconds / Double(shapes.count))
            if best == nil || r.gops > best!.gops { best = r }
        }
        return best!
    }

    public static func measure(_ shape: (m: Int, n: Int, k: Int), pool: WorkerPool, seconds: Double) -> Result {
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
