// Linear layers as the runtime executes them: float weights, or int8 weights (formats/pclip.md,
// "The int8 scheme") with activations quantized per row on the fly, asymmetric (a scale and a
// zero point per row: CLIPKernels' quantizeRows), int32 accumulation, and one float multiply per
// group: y[m,n] = Σ_g dot_g(xq[m] − zp[m], wq[n]) · xs[m] · ws[n,g] + b[n].

import CLIPFormat
import CLIPKernels

/// Int8 weights [N, K] with f32 scales [N, K/G], held in the decoded .pclip layout (mapped in
/// place for raw files, else an owned buffer) — never widened to float.
public struct Q8Weights: @unchecked Sendable {
    public let n: Int
    public let k: Int
    public let groupSize: Int
    let data: PclipTensorData

    public init(_ data: PclipTensorData) throws {
        let info = data.info
        guard info.dtype == .q8, info.dims.count == 2 else {
            throw ModelError.invalidInput("tensor '\(info.name)' is not a 2-D q8 matrix")
        }
        self.n = info.dims[0]
        self.k = info.dims[1]
        self.groupSize = info.groupSize
        self.data = data
    }

    func withPointers<R>(_ body: (UnsafePointer<Int8>, UnsafePointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: Int8.self),
                     (raw.baseAddress! + Q8.scalesOffset(count: n * k)).assumingMemoryBound(to: Float.self))
        }
    }

    /// Row `r` widened to float (q · scale): the token-embedding gather.
    func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        withPointers { q, s in
            let groups = k / groupSize
            for i in 0..<k { out[i] = Float(q[r * k + i]) * s[r * groups + i / groupSize] }
        }
    }
}

/// A linear layer ready to run.
public enum RuntimeLinear: @unchecked Sendable {
    case float(LinearWeights)
    /// Int8 weights repacked once into the kernels' panel layout (the decoded tensor is then
    /// dropped: the weights are held once).
    case q8(PackedQ8Matrix, bias: [Float]?)

    /// Packs a q8 tensor for the int8 kernels.
    static func q8(_ w: Q8Weights, bias: [Float]?) throws -> RuntimeLinear {
        let packed = try w.withPointers { q, s in
            try PackedQ8Matrix(weights: q, scales: s, n: w.n, k: w.k, group: w.groupSize)
        }
        return .q8(packed, bias: bias)
    }

    public var outputs: Int {
        switch self {
        case .float(let l): return l.weight.shape[0]
        case .q8(let w, _): return w.n
        }
    }

    public var inputs: Int {
        switch self {
        case .float(let l): return l.weight.shape[1]
        case .q8(let w, _): return w.k
        }
    }

    /// Bytes the weights occupy in memory.
    public var weightBytes: Int {
        switch self {
        case .float(let l): return 4 * (l.weight.count + (l.bias?.count ?? 0))
        case .q8(let w, let bias): return w.packedBytes + 4 * (bias?.count ?? 0)
        }
    }
}

/// Room for activations quantized per row: up to `rows` × `width` int8 values, and each row's
/// scale and zero point (a `ScratchArena` owns the memory).
struct QuantScratch {
    let q: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>
    let zeroPoints: UnsafeMutablePointer<Int32>
}

/// y[M, N] = x[M, K] · Wᵀ + b, split over output columns across the pool.
///
/// `epilogue(columns)` runs on the thread that computed those columns of y, right after them
/// (all rows): elementwise follow-ups (the activation, a residual add) then use every thread and
/// find their columns still in cache. Its results must not depend on how columns are split.
func apply(_ l: RuntimeLinear, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows m: Int,
           quant: QuantScratch, pool: WorkerPool, epilogue: ((Range<Int>) -> Void)? = nil) {
    switch l {
    case .float(let lw):
        let n = lw.weight.shape[0], k = lw.weight.shape[1]
        lw.weight.values.withUnsafeBufferPointer { w in
            let bias = lw.bias?.values
            pool.parallelRanges(n, granularity: 8) { cols in
                for row in 0..<m {
                    for col in cols {
                        var acc = dot(x + row * k, w.baseAddress! + col * k, count: k)
                        if let bias { acc += bias[col] }
                        y[row * n + col] = acc
                    }
                }
                epilogue?(cols)
            }
        }
    case .q8(let w, let bias):
        let k = w.k
        // Rows quantize independently (per-row scale and zero point): split them across the threads.
        pool.parallelRanges(m, granularity: 4) { rows in
            quantizeRows(x + rows.lowerBound * k, rows: rows.count, k: k, q: quant.q + rows.lowerBound * k,
                         scales: quant.scales + rows.lowerBound, zeroPoints: quant.zeroPoints + rows.lowerBound)
        }
        let run = { (bias: UnsafePointer<Float>?) in
            pool.parallelChunks(pool.threads) { part, _ in
                let columns = w.columnSplit(part, of: pool.threads)
                if !columns.isEmpty {
                    gemmQ8(quant.q, xScales: quant.scales, xZeroPoints: quant.zeroPoints, w, bias: bias, y, m: m, columns: columns)
                    epilogue?(columns)
                }
            }
        }
        if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
    }
}
