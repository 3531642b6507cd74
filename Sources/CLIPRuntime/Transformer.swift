// The pre-LN residual block both CLIP towers are made of (openai/CLIP `ResidualAttentionBlock`):
//
//     x = x + out_proj(attention(in_proj(ln_1(x))))
//     x = x + c_proj(act(c_fc(ln_2(x))))
//
// Buffers are allocated once per forward pass for the longest sequence and reused by every block.

import CLIPKernels

/// Receives named intermediate activations (e.g. "vision.hidden.0") with their shape; used by
/// the golden tests to compare every layer with the reference.
public typealias ActivationObserver = (_ name: String, _ shape: [Int], _ values: UnsafeBufferPointer<Float>) -> Void

/// Work buffers for one tower's forward pass over at most `tokens` tokens.
struct BlockScratch {
    var normed: [Float]   // [T, D]
    var qkv: [Float]      // [T, 3D]
    var attended: [Float] // [T, D]
    var projected: [Float] // [T, D]
    var hidden: [Float]   // [T, mlpWidth]
    var scores: [Float]   // [T]

    init(tokens t: Int, config c: TowerConfig) {
        normed = [Float](repeating: 0, count: t * c.width)
        qkv = [Float](repeating: 0, count: t * 3 * c.width)
        attended = [Float](repeating: 0, count: t * c.width)
        projected = [Float](repeating: 0, count: t * c.width)
        hidden = [Float](repeating: 0, count: t * c.mlpWidth)
        scores = [Float](repeating: 0, count: t)
    }
}

/// y[T, out] = x[T, in] · Wᵀ + b for a `LinearWeights`.
func linear(_ x: UnsafePointer<Float>, _ l: LinearWeights, _ y: UnsafeMutablePointer<Float>, rows: Int) {
    let n = l.weight.shape[0], k = l.weight.shape[1]
    l.weight.values.withUnsafeBufferPointer { w in
        if let bias = l.bias {
            bias.values.withUnsafeBufferPointer { b in
                matmulTransposedB(x, w.baseAddress!, bias: b.baseAddress!, y, m: rows, k: k, n: n)
            }
        } else {
            matmulTransposedB(x, w.baseAddress!, bias: nil, y, m: rows, k: k, n: n)
        }
    }
}

func layerNorm(_ x: UnsafePointer<Float>, _ ln: LayerNormWeights, _ y: UnsafeMutablePointer<Float>,
               rows: Int, eps: Float) {
    ln.gamma.values.withUnsafeBufferPointer { g in
        ln.beta.values.withUnsafeBufferPointer { b in
            layerNorm(x, y, gamma: g.baseAddress!, beta: b.baseAddress!, rows: rows, dim: ln.gamma.count, eps: eps)
        }
    }
}

/// Runs one residual block in place on x [T, D].
func residualBlock(
    _ x: UnsafeMutablePointer<Float>, tokens t: Int, block w: BlockWeights, config c: TowerConfig,
    causal: Bool, activation: Activation, eps: Float, scratch s: inout BlockScratch
) {
    let d = c.width
    s.normed.withUnsafeMutableBufferPointer { normed in
    s.qkv.withUnsafeMutableBufferPointer { qkv in
    s.attended.withUnsafeMutableBufferPointer { attended in
    s.projected.withUnsafeMutableBufferPointer { projected in
    s.hidden.withUnsafeMutableBufferPointer { hidden in
    s.scores.withUnsafeMutableBufferPointer { scores in
        let nb = normed.baseAddress!, pb = projected.baseAddress!
        // Attention: shape = [T, D] → [T, 3D] → [T, D]
        layerNorm(x, w.ln1, nb, rows: t, eps: eps)
        linear(nb, w.qkv, qkv.baseAddress!, rows: t)
        attention(qkv: qkv.baseAddress!, out: attended.baseAddress!, scratch: scores.baseAddress!,
                  tokens: t, dim: d, heads: c.heads, causal: causal)
        linear(attended.baseAddress!, w.attnOut, pb, rows: t)
        addInPlace(x, pb, count: t * d)
        // MLP: shape = [T, D] → [T, mlpWidth] → [T, D]
        layerNorm(x, w.ln2, nb, rows: t, eps: eps)
        linear(nb, w.fc, hidden.baseAddress!, rows: t)
        activateInPlace(hidden.baseAddress!, count: t * c.mlpWidth, activation)
        linear(hidden.baseAddress!, w.proj, pb, rows: t)
        addInPlace(x, pb, count: t * d)
    }}}}}}
}

/// Runs all blocks of a tower on x [T, D], reporting the residual stream before the first block
/// and after each one as "<prefix>.hidden.<i>".
func runTower(
    _ x: inout [Float], tokens t: Int, blocks: [BlockWeights], config c: TowerConfig, causal: Bool,
    activation: Activation, eps: Float, prefix: String, observer: ActivationObserver?
) {
    var scratch = BlockScratch(tokens: t, config: c)
    x.withUnsafeMutableBufferPointer { xb in
        observer?("\(prefix).hidden.0", [t, c.width], UnsafeBufferPointer(xb))
        for (i, block) in blocks.enumerated() {
            residualBlock(xb.baseAddress!, tokens: t, block: block, config: c, causal: causal,
                          activation: activation, eps: eps, scratch: &scratch)
            observer?("\(prefix).hidden.\(i + 1)", [t, c.width], UnsafeBufferPointer(xb))
        }
    }
}
