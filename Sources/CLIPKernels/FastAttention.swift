// Multi-head attention, the fast path: the C kernel pc_attention_f32 (AVX2 + FMA where the CPU
// has it, portable C elsewhere), held by Tests/CLIPKernelsTests to `attention` in
// FloatKernels.swift, which stays the definition. Measured on the ViT-B/32 shape (T = 50,
// D = 768, 12 heads, 12 layers): see tools/bench_kernels.sh.

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
public func attentionFast(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    tokens t: Int, dim d: Int, heads h: Int, causal: Bool
) {
    let rc = pc_attention_f32(qkv, out, scratch, Int64(t), Int64(d), Int64(h), causal ? 1 : 0)
    precondition(rc == 0, "attentionFast: \(t) tokens of width \(d) cannot split into \(h) heads")
}
