// Plain Swift int8 loops the runtime uses until the SIMD kernels of CLIPKernelsC land; they
// follow the same definitions (formats/pclip.md) and are what the fast kernels must match.

/// Per-row symmetric quantization: scale = amax/127, q = round-half-away(x/scale), |q| ≤ 127.
func quantizeRows(_ x: UnsafePointer<Float>, rows: Int, width k: Int, q: UnsafeMutablePointer<Int8>,
                  scales: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = x + r * k
        var amax: Float = 0
        for i in 0..<k { amax = max(amax, abs(row[i])) }
        let scale = amax / 127
        scales[r] = scale
        for i in 0..<k {
            let v = scale == 0 ? 0 : (row[i] / scale).rounded(.toNearestOrAwayFromZero)
            q[r * k + i] = Int8(max(-127, min(127, v)))
        }
    }
}

/// y[m, n] for n in `columns`: Σ_g (Σ_{i∈g} xq·wq) · ws[n,g], times xs[m], plus bias[n].
func gemmQ8(_ xq: UnsafePointer<Int8>, _ xs: UnsafePointer<Float>, _ wq: UnsafePointer<Int8>, _ ws: UnsafePointer<Float>,
            _ bias: [Float]?, _ y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, group g: Int, columns: Range<Int>) {
    let groups = k / g
    for row in 0..<m {
        let xr = xq + row * k
        for col in columns {
            let wr = wq + col * k
            var acc: Float = 0
            for j in 0..<groups {
                var dot: Int32 = 0
                for i in (j * g)..<((j + 1) * g) { dot &+= Int32(xr[i]) * Int32(wr[i]) }
                acc += Float(dot) * ws[col * groups + j]
            }
            y[row * n + col] = acc * xs[row] + (bias?[col] ?? 0)
        }
    }
}
