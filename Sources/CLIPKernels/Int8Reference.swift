// Int8 kernels, scalar reference: the definitions the C kernels (Sources/CLIPKernelsC) are held
// to by Tests/CLIPKernelsTests, and the fallback for group sizes the packed layout cannot hold.
//
// Letters as in FloatKernels.swift: x is [M, K], W is [N, K] (PyTorch nn.Linear), y = x · Wᵀ.
// Quantization follows formats/pclip.md ("The int8 scheme"): symmetric, |q| <= 127, one f32
// scale per group of G consecutive elements along K (G = K: one scale per row).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public enum Int8Reference {
    /// Quantizes `rows` rows of `k` floats symmetric per row (G = k), byte for byte the spec's
    /// reference quantizer: amax = max |x|, scale = amax / 127,
    /// q = scale == 0 ? 0 : clamp(round_half_away(x / scale), -127, 127).
    public static func quantizeRows(
        _ x: UnsafePointer<Float>, rows: Int, k: Int,
        q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let xr = x + r * k, qr = q + r * k
            var amax: Float = 0
            for i in 0..<k { amax = max(amax, abs(xr[i])) }
            let scale = amax / 127
            scales[r] = scale
            for i in 0..<k {
                if scale == 0 {
                    qr[i] = 0
                } else {
                    let v = (xr[i] / scale).rounded(.toNearestOrAwayFromZero)
                    qr[i] = Int8(max(-127, min(127, v)))
                }
            }
        }
    }

    /// The exact integer sums: out[(i · n + j) · groups + g] = Σ_{t in group g} x[i, t] · w[j, t].
    public static func groupDotProducts(
        _ x: UnsafePointer<Int8>, _ w: UnsafePointer<Int8>, m: Int, n: Int, k: Int, group: Int
    ) -> [Int32] {
        let groups = k / group
        var out = [Int32](repeating: 0, count: m * n * groups)
        for i in 0..<m {
            for j in 0..<n {
                for g in 0..<groups {
                    var acc: Int32 = 0
                    for t in (g * group)..<((g + 1) * group) {
                        acc &+= Int32(x[i * k + t]) * Int32(w[j * k + t])
                    }
                    out[(i * n + j) * groups + g] = acc
                }
            }
        }
        return out
    }

    /// y[i, j] = (Σ_g Float(dot_g) · wScales[j, g]) · xScales[i] (+ bias[j]) for columns in
    /// `columns`; y has row stride `ldy`. The float steps are the ones the C kernels take, in the
    /// same order, each rounded separately (no fused multiply-add).
    public static func gemm(
        _ x: UnsafePointer<Int8>, xScales: UnsafePointer<Float>,
        _ w: UnsafePointer<Int8>, wScales: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>, ldy: Int, m: Int, n: Int, k: Int, group: Int, columns: Range<Int>
    ) {
        let groups = k / group
        for i in 0..<m {
            for j in columns {
                var s: Float = 0
                for g in 0..<groups {
                    var acc: Int32 = 0
                    for t in (g * group)..<((g + 1) * group) {
                        acc &+= Int32(x[i * k + t]) * Int32(w[j * k + t])
                    }
                    let term = Float(acc) * wScales[j * groups + g]
                    s = g == 0 ? term : s + term
                }
                var v = s * xScales[i]
                if let bias { v = v + bias[j] }
                y[i * ldy + j] = v
            }
        }
    }
}
