// Int8 kernels, the fast path: Swift entry points over the C kernels of Sources/CLIPKernelsC
// (AVX2 / AVX-VNNI / AVX-512 VNNI / NEON / NEON dotprod / portable C, picked at run time), held to
// Int8Reference.swift by Tests/CLIPKernelsTests.
//
// A linear layer in q8: quantize the activation rows once (`quantizeRows`: asymmetric, a scale
// and a zero point per row), then `gemmQ8(...)` against weights packed once at load time
// (`PackedQ8Matrix`).
//
//     let w = try PackedQ8Matrix(weights: q, scales: s, n: 3072, k: 768, group: 768)
//     quantizeRows(x, rows: 50, k: 768, q: xq, scales: xs, zeroPoints: xz)
//     gemmQ8(xq, xScales: xs, xZeroPoints: xz, w, bias: b, y, m: 50)              // y: [50, 3072]
//     gemmQ8(xq, xScales: xs, xZeroPoints: xz, w, bias: b, y, m: 50, columns: 0..<1536)  // one thread's half

import CLIPKernelsC

/// The code paths of the int8 kernels.
public enum KernelISA: Int32, Sendable, CaseIterable {
    case portable = 0, avx2 = 1, avxVNNI = 2, neon = 3, neonDotprod = 4, avx512VNNI = 5

    /// The path in use: the best this CPU has, capped by POCKETCLIP_ISA ("portable", "avx2",
    /// "avxvnni", "avx512vnni", "neon", "dotprod") when the kernels were first used: the best
    /// path at or below the named one (pc_kernels.h).
    public static var current: KernelISA { KernelISA(rawValue: pc_kernels_isa()) ?? .portable }

    /// Switches every later kernel call to `isa` if this CPU can run it; returns the path in use.
    /// For tests and the profiler; do not call while another thread runs a kernel.
    @discardableResult
    public static func force(_ isa: KernelISA) -> KernelISA {
        KernelISA(rawValue: pc_kernels_set_isa(isa.rawValue)) ?? .portable
    }

    /// The name POCKETCLIP_ISA uses for this path.
    public var name: String { String(cString: pc_kernels_isa_name(rawValue)) }
}

/// Why int8 weights could not be prepared.
public enum Int8KernelError: Error, CustomStringConvertible, Equatable {
    case badShape(n: Int, k: Int, group: Int)

    public var description: String {
        switch self {
        case let .badShape(n, k, group):
            return "q8 weights [\(n), \(k)] with group size \(group): expected n >= 1, 1 <= k <= "
                + "\(Int(PC_Q8_MAX_K)) and a group size that divides k; check the tensor's shape and "
                + "group_size in the .pclip file"
        }
    }
}

/// Quantizes `rows` rows of `k` floats asymmetric per row into `q` ([rows, k], uint8 shifted by
/// -128), `scales` ([rows]) and `zeroPoints` ([rows], 0...255), so x ≈ scale · (q + 128 − zp);
/// byte-identical to `Int8Reference.quantizeRows`, which states the formula. Inputs must be finite.
public func quantizeRows(
    _ x: UnsafePointer<Float>, rows: Int, k: Int, q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
    zeroPoints: UnsafeMutablePointer<Int32>
) {
    pc_quantize_rows_f32_q8(x, Int64(rows), Int64(k), q, scales, zeroPoints)
}

/// Int8 weights W [n, k] (|w| <= 127) with f32 scales [n, k / group], repacked once into the
/// kernels' panel layout (16 columns per panel; see Sources/CLIPKernelsC/pc_internal.h).
///
/// Group sizes that are k itself or a multiple of 4 use the fast kernels. Any other group size
/// that divides k (legal in a .pclip file, never produced by default) is kept unpacked and
/// computed by the scalar reference: correct, ~50x slower.
/// Immutable after init: any number of threads may use one matrix at once.
public final class PackedQ8Matrix: @unchecked Sendable {
    public let n: Int, k: Int, group: Int
    /// Bytes of the packed copy (0 on the reference fallback).
    public let packedBytes: Int
    let packed: UnsafeMutableRawPointer?
    let rawWeights: [Int8]
    let rawScales: [Float]

    /// Whether `gemmQ8` runs the fast kernels on this matrix (false: the scalar reference).
    public var usesFastKernels: Bool { packed != nil }

    /// Columns per packed panel. Column ranges that start and end on a multiple of it (or at n)
    /// cost nothing extra; any other boundary computes its panel in both ranges.
    public static let panelColumns = Int(PC_Q8_PANEL)

    /// Part `part` of `parts` near-equal column ranges cut on panel boundaries, for splitting one
    /// gemm across threads: ranges are disjoint, cover 0..<n, and some may be empty when n is
    /// small. `w.columnSplit(1, of: 2)` for N = 768 is 384..<768.
    public func columnSplit(_ part: Int, of parts: Int) -> Range<Int> {
        precondition(parts >= 1 && part >= 0 && part < parts, "columnSplit: part \(part) of \(parts)")
        let panels = (n + Self.panelColumns - 1) / Self.panelColumns
        let lo = panels * part / parts * Self.panelColumns, hi = panels * (part + 1) / parts * Self.panelColumns
        return min(lo, n)..<min(hi, n)
    }

    public init(weights: UnsafePointer<Int8>, scales: UnsafePointer<Float>, n: Int, k: Int, group: Int) throws {
        guard n >= 1, k >= 1, k <= Int(PC_Q8_MAX_K), group >= 1, k % group == 0 else {
            throw Int8KernelError.badShape(n: n, k: k, group: group)
        }
        self.n = n
        self.k = k
        self.group = group
        let bytes = Int(pc_q8_packed_size(Int64(n), Int64(k), Int64(group)))
        if bytes > 0 {
            // 64-byte aligned: each 16-column block of 4 k is one cache line.
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            let rc = pc_q8_pack(weights, scales, Int64(n), Int64(k), Int64(group), p)
            precondition(rc == 0, "pc_q8_pack refused a shape pc_q8_packed_size accepted")
            packed = p
            packedBytes = bytes
            rawWeights = []
            rawScales = []
        } else {
            packed = nil
            packedBytes = 0
            rawWeights = Array(UnsafeBufferPointer(start: weights, count: n * k))
            rawScales = Array(UnsafeBufferPointer(start: scales, count: n * (k / group)))
        }
    }

    deinit { packed?.deallocate() }
}

/// y[i, j] ≈ (Σ_g (Σ_{t in g} (xq[i, t] + 128 − xZeroPoints[i]) · w[j, t]) · wScale[j, g]) · xScales[i]
/// (+ bias[j]) for rows 0..<m and the columns in `columns` (all n by default); other columns of y
/// are untouched. `Int8Reference.gemm` states the exact float steps (the zero-point term folded
/// into one float per column).
///
/// xq, xScales, xZeroPoints: [m, w.k], [m], [m] as `quantizeRows` writes them (zero points in
/// 0...255); bias: [w.n] or nil; y: [m, ldy] with ldy >= w.n (default w.n). The integer sums are
/// exact and the float steps are rounded identically on every path, so a value never depends on
/// the column range, on m, or on the CPU: split `columns` across threads freely.
public func gemmQ8(
    _ xq: UnsafePointer<Int8>, xScales: UnsafePointer<Float>, xZeroPoints: UnsafePointer<Int32>, _ w: PackedQ8Matrix,
    bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, m: Int, columns: Range<Int>? = nil, ldy: Int? = nil
) {
    let cols = columns ?? 0..<w.n
    let stride = ldy ?? w.n
    precondition(cols.lowerBound >= 0 && cols.upperBound <= w.n && stride >= w.n && m >= 0,
                 "gemmQ8: columns \(cols) / ldy \(stride) outside a matrix of \(w.n) columns")
    if let packed = w.packed {
        let rc = pc_gemm_q8(xq, xScales, xZeroPoints, packed, bias, y, Int64(stride), Int64(m), Int64(w.n),
                            Int64(w.k), Int64(w.group), Int64(cols.lowerBound), Int64(cols.upperBound))
        precondition(rc == 0, "pc_gemm_q8 refused a shape PackedQ8Matrix accepted")
    } else {
        w.rawWeights.withUnsafeBufferPointer { wp in
            w.rawScales.withUnsafeBufferPointer { sp in
                Int8Reference.gemm(xq, xScales: xScales, xZeroPoints: xZeroPoints, wp.baseAddress!,
                                   wScales: sp.baseAddress!, bias: bias, y, ldy: stride, m: m, n: w.n, k: w.k,
                                   group: w.group, columns: cols)
            }
        }
    }
}
