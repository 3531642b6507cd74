// The transformer both CLIP towers are made of (openai/CLIP `Transformer`): a stack of pre-LN
// residual blocks (`ResidualAttentionBlock`), each
//
//     x = x + out_proj(attention(in_proj(ln_1(x))))
//     x = x + c_proj(act(c_fc(ln_2(x))))
//
// A forward pass runs S sequences of T tokens at once (a batch of images): the linear layers
// see all S·T rows (bigger matmuls), attention runs per sequence. Letters: S sequences, T tokens,
// D the width, H heads. The buffers are the pass's (ForwardPass.swift), reused by every block.

import CLIPKernels

/// Receives named intermediate activations (e.g. "vision.hidden.0") with their shape; used by
/// the golden tests to compare every layer with the reference.
public typealias ActivationObserver = (_ name: String, _ shape: [Int], _ values: UnsafeBufferPointer<Float>) -> Void

/// A stack of residual blocks as one CLIP tower runs them: openai/CLIP `Transformer(width,
/// layers, heads, attn_mask)`, with the activation and LayerNorm epsilon of its model.
struct Tower: Sendable {
    /// Which tower: names its profiler stages and its observed activations ("vision.hidden.3").
    let name: ProfileStage.Tower
    let config: TowerConfig
    let blocks: [BlockPlan]
    /// The text tower's mask: token i attends to tokens 0...i only.
    let causal: Bool
    let activation: Activation
    let eps: Float

    var weightBytes: Int { blocks.reduce(0) { $0 + $1.weightBytes } }

    /// Runs every block in place on the pass's x [S·T, D], showing the observer the residual
    /// stream before the first block and after each one as "<name>.hidden.<i>" ([S·T, D]).
    ///
    /// `pooledRow`: the one row per sequence the caller reads afterwards (class token, EOT token).
    /// Without an observer, the last block then computes only that row (see `block`); the other
    /// rows of x are left at their values before the last block.
    func forward(_ p: ForwardPass, pooledRow: Int) {
        p.observe("\(name.rawValue).hidden.0", p.x, shape: [p.rows, config.width])
        for i in blocks.indices {
            let last = i == blocks.count - 1 && p.observer == nil
            block(i, p, onlyRow: last ? pooledRow : nil)
            p.observe("\(name.rawValue).hidden.\(i + 1)", p.x, shape: [p.rows, config.width])
        }
    }

    /// Residual block i, in place on x [S·T, D]:
    ///
    ///     x = x + out_proj(attention(in_proj(ln_1(x))))
    ///     x = x + c_proj(act(c_fc(ln_2(x))))
    ///
    /// With `onlyRow` = r, only row r of each sequence is brought up to date (the others keep
    /// their input values): every row still feeds the keys and values, but the attention output,
    /// the MLP and both residual adds run on S rows instead of S·T. The tower's last block uses it
    /// when only the pooled token is read; each computed row has the same bits as in a full block
    /// (no kernel result depends on which other rows are computed with it).
    func block(_ i: Int, _ p: ForwardPass, onlyRow: Int?) {
        let w = blocks[i], d = config.width, mw = config.mlpWidth, act = activation
        layerNorm(p.x, w.ln1, p.normed, rows: p.rows, eps: eps, pool: p.pool)           // normed: [S·T, D]
        apply(w.qkv, p.normed, p.qkv, rows: p.rows, quant: p.quant, pool: p.pool)       // qkv: [S·T, 3D]
        attention(p, queryRow: onlyRow)                                                 // attended: [S·T, D]
        // The n rows the rest of the block runs on: all S·T, or the S kept rows.
        let (x, attended, n) = onlyRow.map { keepRow($0, p) } ?? (p.x, p.attended, p.rows)
        apply(w.attnOut, attended, p.projected, rows: n, quant: p.quant, pool: p.pool)  // projected: [n, D]
        p.timer?.lap(ProfileStage(name, .attention, block: i))
        // x += projected, then normed = ln_2(x): the residual add fused with the norm after it.
        addLayerNorm(x, residual: p.projected, w.ln2, p.normed, rows: n, eps: eps, pool: p.pool)  // normed: [n, D]
        // The activation and the second residual add run on each thread's own output columns.
        let hidden = p.hidden, projected = p.projected
        apply(w.fc, p.normed, hidden, rows: n, quant: p.quant, pool: p.pool) { cols in  // hidden: [n, mlpWidth]
            for row in 0..<n { activateInPlaceFast(hidden + row * mw + cols.lowerBound, count: cols.count, act) }
        }
        apply(w.proj, hidden, projected, rows: n, quant: p.quant, pool: p.pool) { cols in  // x += c_proj(hidden): [n, D]
            for row in 0..<n { addInPlace(x + row * d + cols.lowerBound, projected + row * d + cols.lowerBound, count: cols.count) }
        }
        if let r = onlyRow { restoreRow(r, p) }
        p.timer?.lap(ProfileStage(name, .mlp, block: i))
    }

    /// attended = softmax(q·kᵀ / √(D/H) [+ causal mask]) · v for each sequence and head:
    /// qkv [S·T, 3D] → attended [S·T, D]; with `queryRow`, only that row of each sequence.
    func attention(_ p: ForwardPass, queryRow: Int?) {
        let t = p.tokens, d = config.width, h = config.heads, causal = causal
        let qkv = p.qkv, out = p.attended, scores = p.scores, perWorker = p.scoresPerWorker
        let queries = queryRow.map { $0..<($0 + 1) }
        p.pool.parallelChunks(p.sequences * h) { slot, range in
            // (sequence, head) pairs split across workers, so one image's heads use every thread;
            // each worker owns one slice of the scratch. Consecutive heads of a sequence go in one call.
            var u = range.lowerBound
            while u < range.upperBound {
                let seq = u / h, end = min(range.upperBound, (seq + 1) * h)
                attentionFast(qkv: qkv + seq * t * 3 * d, out: out + seq * t * d, scratch: scores + slot * perWorker,
                              tokens: t, dim: d, heads: h, causal: causal, headRange: (u - seq * h)..<(end - seq * h),
                              queryRows: queries)
                u = end
            }
        }
    }

    /// Gathers row r of each sequence of x and of attended into keptX and keptAttended ([S, D]
    /// each), for a block that computes only those rows.
    private func keepRow(_ r: Int, _ p: ForwardPass) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) {
        let d = config.width
        for seq in 0..<p.sequences {
            (p.keptX + seq * d).update(from: p.x + (seq * p.tokens + r) * d, count: d)
            (p.keptAttended + seq * d).update(from: p.attended + (seq * p.tokens + r) * d, count: d)
        }
        return (p.keptX, p.keptAttended, p.sequences)
    }

    /// Puts the kept rows back as row r of each sequence of x.
    private func restoreRow(_ r: Int, _ p: ForwardPass) {
        let d = config.width
        for seq in 0..<p.sequences { (p.x + (seq * p.tokens + r) * d).update(from: p.keptX + seq * d, count: d) }
    }
}

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

/// y = LayerNorm(x) over `rows` rows, split by rows across the pool (rows are independent).
func layerNorm(_ x: UnsafePointer<Float>, _ ln: LayerNormWeights, _ y: UnsafeMutablePointer<Float>,
               rows: Int, eps: Float, pool: WorkerPool = .single) {
    let dim = ln.gamma.count
    ln.withPointers { gamma, beta in
        pool.parallelRanges(rows, granularity: 4) { r in
            let o = r.lowerBound * dim
            layerNormFast(x + o, y + o, gamma: gamma, beta: beta, rows: r.count, dim: dim, eps: eps)
        }
    }
}

/// x += residual, then y = LayerNorm(x): the residual connection fused with the norm after it,
/// split by rows across the pool.
func addLayerNorm(_ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>, _ ln: LayerNormWeights,
                  _ y: UnsafeMutablePointer<Float>, rows: Int, eps: Float, pool: WorkerPool = .single) {
    let dim = ln.gamma.count
    ln.withPointers { gamma, beta in
        pool.parallelRanges(rows, granularity: 4) { r in
            let o = r.lowerBound * dim
            addLayerNormFast(x + o, residual: residual + o, y + o, gamma: gamma, beta: beta, rows: r.count, dim: dim, eps: eps)
        }
    }
}

extension LayerNormWeights {
    /// gamma and beta, for the kernels.
    func withPointers<R>(_ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        gamma.values.withUnsafeBufferPointer { g in
            beta.values.withUnsafeBufferPointer { b in body(g.baseAddress!, b.baseAddress!) }
        }
    }
}
