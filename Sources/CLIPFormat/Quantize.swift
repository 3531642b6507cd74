// The reference int8 quantizer of formats/pclip.md ("The int8 scheme"): the definition every
// faster quantizer must reproduce byte for byte.
//
//     amax  = max |x|  over a group of G consecutive elements of a row (binary32)
//     scale = amax / 127
//     q     = scale == 0 ? 0 : clamp(round_half_away_from_zero(x / scale), -127, 127)
//
// A q8 tensor of n elements with last dimension K stores `int8 q[n]`, zero padding to a
// multiple of 4, then `f32 scale[rows][K / G]`.

public enum Q8 {
    /// Bytes a q8 tensor of `count` elements with last dimension `k` and group `groupSize` decodes to.
    public static func decodedSize(count: Int, k: Int, groupSize: Int) -> Int {
        let rows = count / k
        return alignUp(count, 4) + 4 * rows * (k / groupSize)
    }

    /// Byte offset of the scales inside the decoded bytes.
    public static func scalesOffset(count: Int) -> Int { alignUp(count, 4) }

    /// Quantizes `rows` rows of `k` values into `q` (rows·k int8) and `scales` (rows·k/G f32).
    public static func quantize(_ x: UnsafePointer<Float>, rows: Int, k: Int, groupSize g: Int,
                                q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        precondition(g > 0 && k % g == 0, "group size \(g) must divide \(k)")
        let groups = k / g
        for r in 0..<rows {
            for j in 0..<groups {
                let base = r * k + j * g
                var amax: Float = 0
                for i in 0..<g { amax = max(amax, abs(x[base + i])) }
                let scale = amax / 127
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
    public static func encode(_ values: [Float], k: Int, groupSize: Int) -> [UInt8] {
        let rows = values.count / k
        var out = [UInt8](repeating: 0, count: decodedSize(count: values.count, k: k, groupSize: groupSize))
        out.withUnsafeMutableBytes { raw in
            values.withUnsafeBufferPointer { x in
                quantize(x.baseAddress!, rows: rows, k: k, groupSize: groupSize,
                         q: raw.baseAddress!.assumingMemoryBound(to: Int8.self),
                         scales: (raw.baseAddress! + scalesOffset(count: values.count)).assumingMemoryBound(to: Float.self))
            }
        }
        return out
    }
}

@inline(__always)
public func alignUp(_ x: Int, _ a: Int) -> Int { (x + a - 1) / a * a }
