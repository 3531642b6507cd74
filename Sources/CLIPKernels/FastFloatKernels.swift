// The float kernels of FloatKernels.swift that the int8 runtime still runs around its matmuls,
// fast: attention (pc_attention_f32), the MLP activations (pc_gelu_f32, pc_quick_gelu_f32) and
// LayerNorm (pc_layernorm_f32), on AVX-512 or AVX2 + FMA where the CPU has it, portable C
// elsewhere. FloatKernels.swift stays the definition; Tests/CLIPKernelsTests hold these to it.
// Per ViT-B/32 image (12 layers, tools/bench/bench-kernels.sh, AVX-512 VNNI machine), against the
// Swift definitions: attention 0.9 ms (4 query rows per group, 512-bit, polynomial exp in the
// softmax) against 48.5 ms; GELU 0.5 ms against 3.3; QuickGELU 0.3 ms against 3.1; LayerNorm
// ~0.1 ms against ~1.2.

import CLIPKernelsC

/// Floats of scratch `attentionFast` needs for this shape (0 if the shape is invalid: dim must
/// be a positive multiple of heads, tokens >= 1).
public func attentionFastScratchCount(tokens: Int, dim: Int, heads: Int) -> Int {
    Int(pc_attention_scratch_floats(Int64(tokens), Int64(dim), Int64(heads)))
}

/// Same contract as `attention(qkv:out:scratch:tokens:dim:heads:causal:)` — qkv [T, 3·D], out
/// [T, D], causal rows independent of T — but `scratch` holds
/// `attentionFastScratchCount(tokens:dim:heads:)` floats. Results match the Swift definition up
/// to float rounding (the dot products are summed in another order, with FMA).
///
///     var scratch = [Float](repeating: 0, count: attentionFastScratchCount(tokens: 50, dim: 768, heads: 12))
///     attentionFast(qkv: qkv, out: &out, scratch: &scratch, tokens: 50, dim: 768, heads: 12, causal: false)
///
/// `headRange` computes only those heads (their columns of `out`; nothing else is written): a
/// head's result does not depend on the range, so threads may split one sequence's heads.
/// `queryRows` likewise computes only those rows of `out` (every key and value is still used),
/// with the same bits as a full call.
public func attentionFast(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    tokens t: Int, dim d: Int, heads h: Int, causal: Bool, headRange: Range<Int>? = nil, queryRows: Range<Int>? = nil
) {
    let r = headRange ?? 0..<h, q = queryRows ?? 0..<t
    let rc = pc_attention_rows_f32(qkv, out, scratch, Int64(t), Int64(d), Int64(h), causal ? 1 : 0,
                                   Int64(r.lowerBound), Int64(r.upperBound), Int64(q.lowerBound), Int64(q.upperBound))
    precondition(rc == 0, "attentionFast: \(t) tokens of width \(d) cannot split into \(h) heads (heads \(r), rows \(q))")
}

/// Same contracts as `geluInPlace(_:count:)` and `quickGELUInPlace(_:count:)`, through
/// pc_gelu_f32 / pc_quick_gelu_f32: libm on the portable path, 8-lane polynomial approximations
/// on AVX2 + FMA with absolute error < 1e-6·max(1, |x|) (measured 1.7e-7 for GELU, 1.2e-7 for
/// QuickGELU; pc_activation.c) — far below the int8 step ((max − min) / 255) the next matmul
/// quantizes these values to.
public func geluInPlaceFast(_ x: UnsafeMutablePointer<Float>, count: Int) { pc_gelu_f32(x, Int64(count)) }

/// See `geluInPlaceFast(_:count:)`.
public func quickGELUInPlaceFast(_ x: UnsafeMutablePointer<Float>, count: Int) { pc_quick_gelu_f32(x, Int64(count)) }

/// Same contract as `layerNorm(_:_:gamma:beta:rows:dim:eps:)`, through pc_layernorm_f32 (AVX-512
/// where the int8 path uses it, portable C elsewhere; every path bit-identical). Mean and variance
/// are still summed in Double, in 8 lanes instead of one, so results match the definition up to
/// float rounding of the output.
///
///     layerNormFast(x, y, gamma: g, beta: b, rows: 50, dim: 768, eps: 1e-5)
public func layerNormFast(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float
) {
    pc_layernorm_f32(x, y, gamma, beta, Int64(rows), Int64(dim), eps)
}

/// The residual add and the LayerNorm after it in one pass: x += residual, then
/// y = layerNormFast(x) — what `addInPlace` followed by `layerNorm` computes, x reading each row
/// once. x, residual, y: [rows, dim]; y must not overlap x or residual.
public func addLayerNormFast(
    _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float
) {
    pc_add_layernorm_f32(x, residual, y, gamma, beta, Int64(rows), Int64(dim), eps)
}
