// The pre-LN residual block both CLIP towers are made of (openai/CLIP `ResidualAttentionBlock`):
//
//     x = x + out_proj(attention(in_proj(ln_1(x))))
//     x = x + c_proj(act(c_fc(ln_2(x))))
//
// A forward pass runs S sequences of T tokens at once (a batch of images): the linear layers
// see all S·T rows (bigger matmuls), attention runs per sequence. Buffers are allocated once
// per forward pass and reused by every block.

import CLIPKernels

/// Receives named intermediate activations (e.g. "vision.hidden.0") with their shape; used by
/// the golden tests to compare every layer with the reference.
public typealias ActivationObserver = (_ name: String, _ shape: [Int], _ values: UnsafeBufferPointer<Float>) -> Void

/// One block as the runtime executes it (float or int8 linears).
struct BlockPlan: @unchecked Sendable {
    let ln1: LayerNormWeights
    let qkv: RuntimeLinear
    let attnOut: RuntimeLinear
    let ln2: LayerNormWeights
    let fc: RuntimeLinear
    let proj: RuntimeLinear

    init(float b: BlockWeights) {
        ln1 = b.ln1; qkv = .float(b.qkv); attnOut = .float(b.attnOut)
        ln2 = b.ln2; fc = .float(b.fc); proj = .float(b.proj)
    }

    init(ln1: LayerNormWeights, qkv: RuntimeLinear, attnOut: RuntimeLinear, ln2: LayerNormWeights,
         fc: RuntimeLinear, proj: RuntimeLinear) {
        self.ln1 = ln1; self.qkv = qkv; self.attnOut = attnOut; self.ln2 = ln2; self.fc = fc; self.proj = proj
    }

    var weightBytes: Int {
        [qkv, attnOut, fc, proj].reduce(0) { $0 + $1.weightBytes } + 4 * 4 * ln1.gamma.count
    }
}

/// Work buffers for one tower's forward pass over `rows` = S·T rows.
struct BlockScratch {
    var normed: [Float]    // [rows, D]
    var qkv: [Float]       // [rows, 3D]
    var attended: [Float]  // [rows, D]
    var projected: [Float] // [rows, D]
    var hidden: [Float]    // [rows, mlpWidth]
    var scores: [Float]    // attention scratch per worker
    var quant: QuantScratch
    let scoresPerWorker: Int

    init(rows: Int, tokens t: Int, config c: TowerConfig, threads: Int) {
        normed = [Float](repeating: 0, count: rows * c.width)
        qkv = [Float](repeating: 0, count: rows * 3 * c.width)
        attended = [Float](repeating: 0, count: rows * c.width)
        projected = [Float](repeating: 0, count: rows * c.width)
        hidden = [Float](repeating: 0, count: rows * c.mlpWidth)
        scoresPerWorker = attentionFastScratchCount(tokens: t, dim: c.width, heads: c.heads)
        scores = [Float](repeating: 0, count: max(1, threads) * scoresPerWorker)
        quant = QuantScratch(rows: rows, width: max(c.width, c.mlpWidth))
    }
}

/// y = LayerNorm(x) over `rows` rows, split by rows across the pool (rows are independent).
func layerNorm(_ x: UnsafePointer<Float>, _ ln: LayerNormWeights, _ y: UnsafeMutablePointer<Float>,
               rows: Int, eps: Float, pool: WorkerPool = .single) {
    let dim = ln.gamma.count
    ln.gamma.values.withUnsafeBufferPointer { g in
        ln.beta.values.withUnsafeBufferPointer { b in
            pool.parallelRanges(rows, granularity: 4) { r in
                layerNormFast(x + r.lowerBound * dim, y + r.lowerBound * dim, gamma: g.baseAddress!, beta: b.baseAddress!,
                              rows: r.count, dim: dim, eps: eps)
            }
        }
    }
}

/// x += residual, then y = LayerNorm(x): the residual connection fused with the norm after it,
/// split by rows across the pool.
func addLayerNorm(_ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>, _ ln: LayerNormWeights,
                  _ y: UnsafeMutablePointer<Float>, rows: Int, eps: Float, pool: WorkerPool = .single) {
    let dim = ln.gamma.count
    ln.gamma.values.withUnsafeBufferPointer { g in
        ln.beta.values.withUnsafeBufferPointer { b in
            pool.parallelRanges(rows, granularity: 4) { r in
                let o = r.lowerBound * dim
                addLayerNormFast(x + o, residual: residual + o, y + o, gamma: g.baseAddress!, beta: b.baseAddress!,
                                 rows: r.count, dim: dim, eps: eps)
            }
        }
    }
}

/// Runs one residual block in place on x [S·T, D].
///
/// With `onlyRow` = r, only row r of each sequence is brought up to date (the others keep their
/// input values): every row still feeds the keys and values, but the attention output, the MLP
/// and both residual adds run on S rows instead of S·T. The tower's last block uses it when only
/// the pooled token is read; each computed row has the same bits as in a full block (no kernel
/// result depends on which other rows are computed with it).
func residualBlock(
    _ x: UnsafeMutablePointer<Float>, sequences s: Int, tokens t: Int, block w: BlockPlan, config c: TowerConfig,
    causal: Bool, activation: Activation, eps: Float, scratch sc: inout BlockScratch, pool: WorkerPool,
    onlyRow: Int? = nil, timer: StageTimer? = nil, tower: ProfileStage.Tower = .vision, index: Int = 0
) {
    let d = c.width, rows = s * t
    // Move the quantization scratch out (leaving an empty one) so it stays uniquely referenced:
    // mutating a shared copy would reallocate it in every block.
    var quant = sc.quant
    sc.quant = QuantScratch(rows: 0, width: 0)
    defer { sc.quant = quant }
    sc.normed.withUnsafeMutableBufferPointer { normed in
    sc.qkv.withUnsafeMutableBufferPointer { qkv in
    sc.attended.withUnsafeMutableBufferPointer { attended in
    sc.projected.withUnsafeMutableBufferPointer { projected in
    sc.hidden.withUnsafeMutableBufferPointer { hidden in
    sc.scores.withUnsafeMutableBufferPointer { scores in
        let nb = normed.baseAddress!, pb = projected.baseAddress!
        // Attention: shape = [S·T, D] → [S·T, 3D] → per sequence and head → [S·T, D]
        layerNorm(x, w.ln1, nb, rows: rows, eps: eps, pool: pool)
        apply(w.qkv, nb, qkv.baseAddress!, rows: rows, scratch: &quant, pool: pool)
        let qkvBase = UnsafePointer(qkv.baseAddress!), out = attended.baseAddress!, scratchBase = scores.baseAddress!
        let perWorker = sc.scoresPerWorker
        let h = c.heads
        let queries = onlyRow.map { $0..<($0 + 1) }
        pool.parallelChunks(s * h) { slot, range in
            // (sequence, head) pairs split across workers, so one image's heads use every thread;
            // each worker owns one slice of the scratch. Consecutive heads of a sequence go in one call.
            var u = range.lowerBound
            while u < range.upperBound {
                let seq = u / h, end = min(range.upperBound, (seq + 1) * h)
                attentionFast(qkv: qkvBase + seq * t * 3 * d, out: out + seq * t * d, scratch: scratchBase + slot * perWorker,
                              tokens: t, dim: d, heads: h, causal: causal, headRange: (u - seq * h)..<(end - seq * h),
                              queryRows: queries)
                u = end
            }
        }
        // The rows the rest of the block runs on: all of x, or the S kept rows gathered into the
        // qkv buffer (free now; it holds ≥ 2·S·D floats): kept x rows, then their attention rows.
        var xr = x, ar = UnsafePointer(out), n = rows
        if let r = onlyRow {
            let xg = qkv.baseAddress!, ag = qkv.baseAddress! + s * d
            for seq in 0..<s {
                (xg + seq * d).update(from: x + (seq * t + r) * d, count: d)
                (ag + seq * d).update(from: out + (seq * t + r) * d, count: d)
            }
            xr = xg; ar = UnsafePointer(ag); n = s
        }
        apply(w.attnOut, ar, pb, rows: n, scratch: &quant, pool: pool)
        timer?.lap(ProfileStage(tower, .attention, block: index))
        // MLP: shape = [n, D] → [n, mlpWidth] → [n, D], after the attention's residual add. The
        // activation and the second residual add run on each thread's own output columns.
        addLayerNorm(xr, residual: pb, w.ln2, nb, rows: n, eps: eps, pool: pool)
        let hb = hidden.baseAddress!, mw = c.mlpWidth
        apply(w.fc, nb, hb, rows: n, scratch: &quant, pool: pool) { cols in
            for row in 0..<n { activateInPlaceFast(hb + row * mw + cols.lowerBound, count: cols.count, activation) }
        }
        let xm = xr
        apply(w.proj, hb, pb, rows: n, scratch: &quant, pool: pool) { cols in
            for row in 0..<n { addInPlace(xm + row * d + cols.lowerBound, pb + row * d + cols.lowerBound, count: cols.count) }
        }
        if let r = onlyRow {
            for seq in 0..<s { (x + (seq * t + r) * d).update(from: xr + seq * d, count: d) }
        }
        timer?.lap(ProfileStage(tower, .mlp, block: index))
    }}}}}}
}

/// Runs all blocks of a tower on x [S·T, D], reporting the residual stream before the first
/// block and after each one as "<prefix>.hidden.<i>" (shape [S·T, D]).
///
/// `pooledRow`: the one row per sequence the caller reads afterwards (class token, EOT token).
/// Without an observer, the last block then computes only that row (see `residualBlock`); the
/// other rows of x are left at their values before the last block.
/// `timer`: laps each block's attention and MLP as stages of `tower` (see Profiler.swift).
func runTower(
    _ x: inout [Float], sequences s: Int, tokens t: Int, blocks: [BlockPlan], config c: TowerConfig, causal: Bool,
    activation: Activation, eps: Float, prefix: String, observer: ActivationObserver?, pool: WorkerPool,
    pooledRow: Int? = nil, timer: StageTimer? = nil, tower: ProfileStage.Tower = .vision
) {
    var scratch = BlockScratch(rows: s * t, tokens: t, config: c, threads: pool.threads)
    x.withUnsafeMutableBufferPointer { xb in
        observer?("\(prefix).hidden.0", [s * t, c.width], UnsafeBufferPointer(xb))
        for (i, block) in blocks.enumerated() {
            let last = i == blocks.count - 1 && observer == nil
            residualBlock(xb.baseAddress!, sequences: s, tokens: t, block: block, config: c, causal: causal,
                          activation: activation, eps: eps, scratch: &scratch, pool: pool, onlyRow: last ? pooledRow : nil,
                          timer: timer, tower: tower, index: i)
            observer?("\(prefix).hidden.\(i + 1)", [s * t, c.width], UnsafeBufferPointer(xb))
        }
    }
}
