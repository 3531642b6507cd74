// Int8 kernels, scalar reference: the definitions the C kernels (Sources/CLIPKernelsC) are held
// to by Tests/CLIPKernelsTests, and the fallback for group sizes the packed layout cannot hold.
//
// Letters as in FloatKernels.swift: x is [M, K], W is [N, K] (PyTorch nn.Linear), y = x · Wᵀ.
// Weights follow formats/pclip.md ("The int8 scheme"): symmetric, |w| <= 127, one f32 scale per
// group of G consecutive elements along K. Activations are quantized here, per row, asymmetric:
// uint8 with a zero point, stored shifted by -128 as int8 (x' = q − 128, so x ≈ scale·(x' + 128 − zp)).

import CLIPSupport

public enum Int8Reference {
    /// Quantizes `rows` rows of `k` floats asymmetric per row, byte for byte the definition in
    /// Sources/CLIPKernelsC/include/pc_kernels.h (binary32 throughout):
    ///
    ///     lo = min(min x, 0), hi = max(max x, 0), scale = (hi − lo) / 255
    ///     zp = scale == 0 ? 128 : clamp(round_half_away(−lo / scale), 0, 255)
    ///     q  = scale == 0 ? 0   : clamp(round_half_away(x / scale) + zp, 0, 255) − 128
    ///
    /// Writes q to `q` ([rows, k]), scale to `scales` ([rows]) and zp to `zeroPoints` ([rows]).
    public static func quantizeRows(
        _ x: UnsafePointer<Float>, rows: Int, k: Int,
        q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>, zeroPoints: UnsafeMutablePointer<Int32>
    ) {
        for r in 0..<rows {
            let xr = x + r * k, qr = q + r * k
            var lo: Float = 0, hi: Float = 0
            for i in 0..<k {
                lo = min(lo, xr[i])
                hi = max(hi, xr[i])
            }
            let scale = (hi - lo) / 255
            scales[r] = scale
            if scale == 0 {  // an all-zero row: q + 128 − zp = 0 everywhere
                zeroPoints[r] = 128
                for i in 0..<k { qr[i] = 0 }
                continue
            }
            let zp = max(0, min(255, (-lo / scale).rounded(.toNearestOrAwayFromZero)))
            zeroPoints[r] = Int32(zp)
            for i in 0..<k {
                let v = (xr[i] / scale).rounded(.toNearestOrAwayFromZero) + zp
                qr[i] = Int8(max(0, min(255, v)) - 128)
            }
        }
    }

    /// The exact integer sums: out[(i · n + j) · groups + g] = Σ_{t in group g} (x[i, t] + 128 − zp[i]) · w[j, t].
    public static func groupDotProducts(
        _ x: UnsafePointer<Int8>, xZeroPoints zp: UnsafePointer<Int32>, _ w: UnsafePointer<Int8>,
        m: Int, n: Int, k: Int, group: Int
    ) -> [Int32] {
        let groups = k / group
        var out = [Int32](repeating: 0, count: m * n * groups)
        for i in 0..<m {
            for j in 0..<n {
                for g in 0..<groups {
                    var acc: Int32 = 0
                    for t in (g * group)..<((g + 1) * group) {
                        acc &+= (Int32(x[i * k + t]) + 128 - zp[i]) * Int32(w[j * k + t])
                    }
                    out[(i * n + j) * groups + g] = acc
                }
            }
        }
        return out
    }

    /// y[i, j] ≈ (Σ_g dot_g · wScales[j, g]) · xScales[i] (+ bias[j]) for columns in `columns`,
    /// dot_g = Σ_{t in group g} (x[i, t] + 128 − xZeroPoints[i]) · w[j, t]; y has row stride `ldy`.
    /// Exactly the float steps of the C kernels (pc_gemm_q8 in pc_kernels.h), in the same order,
    /// each rounded once (`addingProduct` is a fused multiply-add, like their fmaf / FMA):
    ///
    ///     D_g = Σ_{t in g} (x[i, t] + 128) · w[j, t]            exact integer
    ///     s = +0;  s = s + D_g · wScales[j, g] (fused) for g = 0, 1, ...
    ///     z = +0;  z = z + colsum_g · wScales[j, g] (fused), colsum_g = Σ_{t in g} w[j, t]
    ///     y = (s − zp · z (fused)) · xScales[i];  y = y + bias[j]
    public static func gemm(
        _ x: UnsafePointer<Int8>, xScales: UnsafePointer<Float>, xZeroPoints: UnsafePointer<Int32>,
        _ w: UnsafePointer<Int8>, wScales: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>, ldy: Int, m: Int, n: Int, k: Int, group: Int, columns: Range<Int>
    ) {
        let groups = k / group
        for i in 0..<m {
            for j in columns {
                var s: Float = 0, z: Float = 0
                for g in 0..<groups {
                    var d: Int32 = 0, colsum: Int32 = 0
                    for t in (g * group)..<((g + 1) * group) {
                        let wt = Int32(w[j * k + t])
                        d &+= (Int32(x[i * k + t]) + 128) * wt
                        colsum &+= wt
                    }
                    let scale = wScales[j * groups + g]
                    s = s.addingProduct(Float(d), scale)
                    z = z.addingProduct(Float(colsum), scale)
                }
                var v = s.addingProduct(-Float(xZeroPoints[i]), z) * xScales[i]
                if let bias { v = v + bias[j] }
                y[i * ldy + j] = v
            }
        }
    }
}
