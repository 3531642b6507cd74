// Holds attentionFast, geluInPlaceFast and quickGELUInPlaceFast (C, every path this CPU has) to
// `attention`, `geluInPlace` and `quickGELUInPlace` in FloatKernels.swift.
import CLIPKernels
import XCTest

// Why these tolerances hold on any CPU: each path (portable C, AVX2 + FMA, AVX-512) is fixed
// code with a fixed summation order (no BLAS, no run-time choice of order, FP contraction only
// where written), so on these fixed inputs a path gives the same bits on every CPU that runs it;
// `paths()` runs every path the CPU has (tools/ci/test.sh also caps the dispatch with
// POCKETCLIP_ISA; AVX-VNNI CPUs run the AVX2 float code). A figure measured here for a path is
// therefore that path's figure everywhere. The bounds below come from the arithmetic; the measured
// worst cases, quoted beside them, show the margin.

/// Attention: the fast kernel sums the 64-term score dot products and the T-term output sums in
/// another order and with FMA, and takes exp from a polynomial of ~2 ulp on AVX (pc_exp8,
/// pc_internal.h). A score error Δs moves each probability by ≤ 2·Δs relative, and each
/// output is a convex combination of V values, so |Δout| ≤ 2·Δs·max|v| + the T-term sum's
/// rounding (~√T·u·max|v|). With q, k in [−4, 4] the scores' rounding is ~√64·u·|s|, a few
/// 1e-6 for |s| ≲ 10: 1e-5·max|v| (measured worst 3.0e-6 at T = 50, D = 768, every path). An
/// indexing mistake (a wrong head, token or mask) changes outputs by O(max|v|).
private let attentionTolerancePerMaxV: Float = 1e-5

/// Activations: the AVX paths are polynomial approximations with |error| < 2e-7·max(1, |x|)
/// against exact math, a bound of the polynomial itself (pc_activation.c; the C test checks it
/// over 2 M values); libm's erff/expf in the definition add ≤ 1 ulp (~1e-7 relative). 1e-6
/// leaves a 3x margin over their sum; a wrong coefficient or branch is off by > 1e-3.
private let activationTolerancePerMagnitude: Float = 1e-6

/// LayerNorm: the C kernel sums mean and variance in Double like the definition, in 8 lanes
/// instead of one, so mean and 1/std agree to ~1e-15 relative; the normalized value is then
/// rounded to float (at most 1 ulp apart when the Double values straddle a rounding boundary) and
/// scaled by gamma and shifted by beta in float (≤ 2 more roundings each side). That is ≤ 4 ulp
/// of max(1, |y|) ≈ 2.4e-7; 1e-6 covers it on any path. A wrong mean, variance, gamma or beta
/// index is off by > 1e-2.
private let layerNormTolerancePerMagnitude: Float = 1e-6

final class FastFloatKernelsTests: XCTestCase {
    private var saved = KernelISA.current
    override func setUp() { saved = KernelISA.current }
    override func tearDown() { KernelISA.force(saved) }

    private func paths() -> [KernelISA] {
        var out = [saved]
        for isa in KernelISA.allCases where isa != saved {
            if KernelISA.force(isa) == isa { out.append(isa) }
        }
        KernelISA.force(saved)
        return out
    }

    private func qkv(tokens t: Int, dim d: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<(t * 3 * d)).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(s >> 40) % 20001 - 10000) / 2500  // [-4, 4]: peaked softmaxes too
        }
    }

    func testMatchesDefinitionOnOddShapes() {
        // (tokens, dim, heads): CLIP's shapes, 1 token, odd token counts, head_dim 40 (AVX2 with a
        // partial 32-float block) and 10 (not a multiple of 8: the portable path).
        let shapes = [(50, 768, 12), (77, 512, 8), (1, 768, 12), (7, 80, 2), (33, 30, 3), (9, 64, 1)]
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            for (si, (t, d, h)) in shapes.enumerated() {
                for causal in [false, true] {
                    let x = qkv(tokens: t, dim: d, seed: UInt64(si) + 1)
                    var ref = [Float](repeating: 0, count: t * d), got = ref
                    var small = [Float](repeating: 0, count: t)
                    var scratch = [Float](repeating: .nan, count: attentionFastScratchCount(tokens: t, dim: d, heads: h))
                    attention(qkv: x, out: &ref, scratch: &small, tokens: t, dim: d, heads: h, causal: causal)
                    attentionFast(qkv: x, out: &got, scratch: &scratch, tokens: t, dim: d, heads: h, causal: causal)
                    var maxV: Float = 0
                    for j in 0..<t { for c in 0..<d { maxV = max(maxV, abs(x[j * 3 * d + 2 * d + c])) } }
                    var worst: Float = 0
                    for i in 0..<(t * d) { worst = max(worst, abs(got[i] - ref[i])) }
                    XCTAssertLessThanOrEqual(worst, attentionTolerancePerMaxV * maxV,
                                             "\(isa.name) T=\(t) D=\(d) H=\(h) causal=\(causal)")
                }
            }
        }
    }

    /// With a causal mask, row t must not depend on the tokens after it: the text tower computes
    /// only the real tokens and relies on this being exact, not approximate.
    func testCausalRowsDoNotDependOnLaterTokens() {
        for isa in paths() {
            KernelISA.force(isa)
            let (t, d, h) = (77, 512, 8)
            let x = qkv(tokens: t, dim: d, seed: 99)
            var full = [Float](repeating: 0, count: t * d)
            var scratch = [Float](repeating: 0, count: attentionFastScratchCount(tokens: t, dim: d, heads: h))
            attentionFast(qkv: x, out: &full, scratch: &scratch, tokens: t, dim: d, heads: h, causal: true)
            for short in [1, 9, 20] {
                var part = [Float](repeating: 0, count: short * d)
                attentionFast(qkv: Array(x[0..<(short * 3 * d)]), out: &part, scratch: &scratch,
                              tokens: short, dim: d, heads: h, causal: true)
                XCTAssertEqual(part.map(\.bitPattern), full[0..<(short * d)].map(\.bitPattern),
                               "\(isa.name): first \(short) rows changed with 77 tokens")
            }
        }
    }

    func testActivationsMatchDefinition() {
        // Every 4099th float pattern with |x| < 30, both signs: tiny, ordinary and tail values;
        // ~2150 values (an odd count), so the 8-lane loop and its scalar tail both run.
        var xs: [Float] = []
        var bits: UInt32 = 0
        while bits < 0x41f0_0000 { xs.append(Float(bitPattern: bits)); xs.append(-Float(bitPattern: bits)); bits &+= 4099 * 251 }
        xs.append(0.5)
        XCTAssertEqual(xs.count % 8 == 0, false, "keep a scalar tail in the test data")
        for isa in paths() {
            KernelISA.force(isa)
            for (activation, definition, fast) in [("gelu", geluInPlace, geluInPlaceFast),
                                                   ("quick_gelu", quickGELUInPlace, quickGELUInPlaceFast)] {
                var ref = xs, got = xs
                definition(&ref, ref.count)
                fast(&got, got.count)
                for i in 0..<xs.count {
                    XCTAssertEqual(got[i], ref[i], accuracy: activationTolerancePerMagnitude * max(1, abs(xs[i])),
                                   "\(isa.name) \(activation) at x = \(xs[i])")
                }
            }
        }
    }

    func testLayerNormMatchesDefinition() {
        // CLIP's widths, odd widths (scalar tails of the 8-lane sums) and a large mean offset
        // (the two-pass variance must not cancel).
        let shapes = [(50, 768, Float(0)), (3, 512, 0), (2, 13, 0), (4, 1000, 300), (1, 1, 0), (5, 7, -40)]
        for isa in paths() {
            KernelISA.force(isa)
            for (si, (rows, dim, offset)) in shapes.enumerated() {
                let x = qkv(tokens: rows, dim: dim, seed: 7 + UInt64(si)).prefix(rows * dim).map { $0 + offset }
                let res = qkv(tokens: rows, dim: dim, seed: 70 + UInt64(si)).prefix(rows * dim).map { $0 / 4 }
                let gamma = qkv(tokens: 1, dim: dim, seed: 700 + UInt64(si)).prefix(dim).map { 1 + $0 / 8 }
                let beta = qkv(tokens: 1, dim: dim, seed: 7000 + UInt64(si)).prefix(dim).map { $0 / 8 }
                var ref = [Float](repeating: 0, count: rows * dim), got = ref, fusedOut = ref
                layerNorm(x, &ref, gamma: gamma, beta: beta, rows: rows, dim: dim, eps: 1e-5)
                layerNormFast(x, &got, gamma: gamma, beta: beta, rows: rows, dim: dim, eps: 1e-5)
                for i in 0..<(rows * dim) {
                    XCTAssertEqual(got[i], ref[i], accuracy: layerNormTolerancePerMagnitude * max(1, abs(ref[i])),
                                   "\(isa.name) rows=\(rows) dim=\(dim) at \(i)")
                }
                // Fused: x + residual in place (one float add each), then the same norm, bit for bit.
                var summed = x
                addInPlace(&summed, res, count: summed.count)
                var plain = [Float](repeating: 0, count: rows * dim)
                layerNormFast(summed, &plain, gamma: gamma, beta: beta, rows: rows, dim: dim, eps: 1e-5)
                var xio = x
                addLayerNormFast(&xio, residual: res, &fusedOut, gamma: gamma, beta: beta, rows: rows, dim: dim, eps: 1e-5)
                XCTAssertEqual(xio.map(\.bitPattern), summed.map(\.bitPattern), "\(isa.name) residual sum")
                XCTAssertEqual(fusedOut.map(\.bitPattern), plain.map(\.bitPattern), "\(isa.name) fused norm")
            }
        }
    }

    func testScratchCountRefusesBadShapes() {
        XCTAssertEqual(attentionFastScratchCount(tokens: 50, dim: 768, heads: 12), 64 * 56 + 4 * 56)
        XCTAssertEqual(attentionFastScratchCount(tokens: 50, dim: 768, heads: 7), 0)
        XCTAssertEqual(attentionFastScratchCount(tokens: 0, dim: 768, heads: 12), 0)
    }
}
