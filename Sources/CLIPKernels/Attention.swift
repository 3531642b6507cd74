// Scaled dot-product attention for one head of one sequence (float).

import CLIPSupport

/// Attention of head `head` over one sequence.
///
/// qkv: [T, 3·D], q, k, v side by side in each row (a fused in-projection's output); out:
/// [T, D], of which this head writes columns head·D/H ..< (head+1)·D/H. With `causal`, row t
/// attends to 0...t only — the masked columns are never touched, so row t's result is the
/// same whatever T is. scratch: at least T floats.
public func attentionHead(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    tokens t: Int, dim d: Int, heads h: Int, head: Int, causal: Bool
) {
    let headDim = d / h
    let scale = 1 / Float(headDim).squareRoot()
    let stride = 3 * d
    let qOff = head * headDim, kOff = d + head * headDim, vOff = 2 * d + head * headDim
    for i in 0..<t {
        let span = causal ? i + 1 : t
        let q = qkv + i * stride + qOff
        for j in 0..<span {
            scratch[j] = dot(q, qkv + j * stride + kOff, count: headDim) * scale
        }
        softmaxInPlace(scratch, count: span)
        let o = out + i * d + qOff
        for c in 0..<headDim { o[c] = 0 }
        for j in 0..<span {
            let p = scratch[j]
            let v = qkv + j * stride + vOff
            for c in 0..<headDim { o[c] += p * v[c] }
        }
    }
}

/// All heads of one sequence: the plain definition `attentionFast` is held to.
/// qkv: [T, 3·D]; out: [T, D]; scratch: at least T floats.
public func attention(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    tokens t: Int, dim d: Int, heads h: Int, causal: Bool
) {
    for head in 0..<h {
        attentionHead(qkv: qkv, out: out, scratch: scratch, tokens: t, dim: d, heads: h, head: head, causal: causal)
    }
}
