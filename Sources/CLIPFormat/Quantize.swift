// The reference int8 quantizer of formats/pclip.md ("The int8 scheme"): the definition every
// faster quantizer must reproduce byte for byte.
//
//     amax  = max |x|  over a group of G consecutive elements of a row (binary32)
//     scale = amax / 127
//     q     = scale == 0 ? 0 : clamp(round_half_away_from_zero(x / scale), -127, 127)
//
// A q8 tensor of n elements with last dimension K stores `int8 q[n]`, zero padding to a
// multiple of 4, then `f32 scale[rows][K / G]`.
//
// A reader only ever computes q · scale, so a writer may choose any positive scale.
// `pocketclip convert --text-scales mse` (the default for the text blocks) and `--scales mse`
// pick, per group, the scale of least squared error instead of amax / 127 (`ScaleRule.mse`): no
// cost to the runtime. What it does to the embeddings: `tools/bench/q8-fidelity.py`, recorded in
// docs/benchmarks.md ("Weight scales", "Weight groups").

public enum Q8 {
    /// How a group's scale is chosen.
    public enum ScaleRule: String, Sendable, CaseIterable {
        /// amax / 127: the reference definition above (and the test vectors).
        case amax
        /// The scale of least squared error Σ(q·scale − x)² over the group: the best of
        /// amax·f / 127 for f = 1.00, 0.99, …, 0.70 (the first on ties), then up to two
        /// least-squares refits scale = Σ x·q / Σ q² of the rounded q, each kept only if it
        /// lowers the error. Clipping the rare largest values buys a finer step for all the
        /// others: never a larger error than amax, 3–4% less on ScaleRuleTests' rows.
        case mse
    }

    /// Candidate fractions of amax searched by `ScaleRule.mse`.
    static let mseSearchSteps = 31
    /// Bytes a q8 tensor of `count` elements with last dimension `k` and group `groupSize` decodes to.
    public static func decodedSize(count: Int, k: Int, groupSize: Int) -> Int {
        let rows = count / k
        return alignUp(count, 4) + 4 * rows * (k / groupSize)
    }

    /// Byte offset of the scales inside the decoded bytes.
    public static func scalesOffset(count: Int) -> Int { alignUp(count, 4) }

    /// Quantizes `rows` rows of `k` values into `q` (rows·k int8) and `scales` (rows·k/G f32).
    public static func quantize(_ x: UnsafePointer<Float>, rows: Int, k: Int, groupSize g: Int,
                                q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
                                rule: ScaleRule = .amax) {
        precondition(g > 0 && k % g == 0, "group size \(g) must divide \(k)")
        let groups = k / g
        for r in 0..<rows {
            for j in 0..<groups {
                let base = r * k + j * g
                var amax: Float = 0
                for i in 0..<g { amax = max(amax, abs(x[base + i])) }
                let scale = rule == .mse ? leastErrorScale(x + base, count: g, amax: amax) : amax / 127
                scales[r * groups + j] = scale
                for i in 0..<g {
                    if scale == 0 {
                        q[base + i] = 0
                    } else {
                        let v = (x[base + i] / scale).rounded(.toNearestOrAwayFromZero)
                        q[base + i] = Int8(max(-127, min(127, v)))
                    }
                }
            }
        }
    }

    /// `ScaleRule.mse`'s scale for the `count` values at `x` (0 when all are 0).
    static func leastErrorScale(_ x: UnsafePointer<Float>, count: Int, amax: Float) -> Float {
        guard amax > 0 else { return 0 }
        @inline(__always) func level(_ v: Float, _ s: Float) -> Float {
            max(-127, min(127, (v / s).rounded(.toNearestOrAwayFromZero)))
        }
        func error(_ s: Float) -> Float {
            var e: Float = 0
            for i in 0..<count { let d = level(x[i], s) * s - x[i]; e += d * d }
            return e
        }
        var best = amax / 127, bestError = error(best)
        for step in 1..<mseSearchSteps {
            let s = amax * (1 - Float(step) / 100) / 127
            let e = error(s)
            if e < bestError { best = s; bestError = e }
        }
        for _ in 0..<2 {
            var xq: Float = 0, qq: Float = 0
            for i in 0..<count { let l = level(x[i], best); xq += x[i] * l; qq += l * l }
            let s = xq / qq
            guard qq > 0, s.isFinite, s > 0 else { break }
            let e = error(s)
            guard e < bestError else { break }
            best = s; bestError = e
        }
        return best
    }

    /// q · scale for every element (the float view of a q8 tensor).
    public static func dequantize(q: UnsafePointer<Int8>, scales: UnsafePointer<Float>, rows: Int, k: Int,
                                  groupSize g: Int, into out: UnsafeMutablePointer<Float>) {
        let groups = k / g
        for r in 0..<rows {
            for j in 0..<groups {
                let scale = scales[r * groups + j]
                let base = r * k + j * g
                for i in 0..<g { out[base + i] = Float(q[base + i]) * scale }
            }
        }
    }

    /// Quantizes a whole tensor (last dimension `k`) into its decoded q8 bytes.
    public static func encode(_ values: [Float], k: Int, groupSize: Int, rule: ScaleRule = .amax) -> [UInt8] {
        let rows = values.count / k
        var out = [UInt8](repeating: 0, count: decodedSize(count: values.count, k: k, groupSize: groupSize))
        out.withUnsafeMutableBytes { raw in
            values.withUnsafeBufferPointer { x in
                quantize(x.baseAddress!, rows: rows, k: k, groupSize: groupSize,
                         q: raw.baseAddress!.assumingMemoryBound(to: Int8.self),
                         scales: (raw.baseAddress! + scalesOffset(count: values.count)).assumingMemoryBound(to: Float.self),
                         rule: rule)
            }
        }
        return out
    }
}

@inline(__always)
public func alignUp(_ x: Int, _ a: Int) -> Int { (x + a - 1) / a * a }
