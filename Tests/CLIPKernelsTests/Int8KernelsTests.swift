// Holds the C int8 kernels (dispatched path AND forced portable path) to Int8Reference.swift on
// odd shapes: m = 1, 3, 50, 77; k not a multiple of 4, 16 or 32; n odd and not a multiple of the
// 16-column panel; column ranges that cut panels; group sizes from 4 to k; activations over the
// whole int8 range with zero points 0...255; and the quantizer on the rows the runtime meets
// (all positive after GELU, all negative, all zero, one huge outlier).
import CLIPKernels
import Foundation
import XCTest

/// With unit scales and no bias the kernels' float steps (pc_gemm_q8: Σ_g fmaf(D_g, 1, s), then
/// s − zp·Σ colsum) act on integers; while every one of them stays below 2^24 in magnitude, where
/// Float holds integers exactly, the output IS the dot product Σ (x + 128 − zp)·w: tolerance 0.
private let integerTolerance: Float = 0

/// Beyond 2^24 each of the groups + 2 roundings errs by at most half an ulp of a value no larger
/// than M = Σ_g |D_g| + zp·Σ_g |colsum_g| (the magnitudes the steps add): (groups + 2)·2^-23·M
/// bounds the distance to the exact integer. An error of one in any integer sum is larger.
private func integerRoundingBound(groups: Int, magnitude: Double) -> Double {
    Double(groups + 2) * 0x1p-23 * magnitude
}

/// Dequantized activations lie within half a quantization step of the input, plus the rounding
/// of x / scale in binary32 (|x / scale| <= 255, so < 255 · 2^-23 ≈ 3e-5 of a step): 0.5 + 1e-4.
private let halfStepTolerance = 0.5 + 1e-4

/// A subnormal scale carries an absolute rounding error of up to half the smallest subnormal,
/// which |q + 128 − zp| <= 255 multiplies.
private let subnormalScaleSlack = 255 * 0.5 * Double(Float.leastNonzeroMagnitude)

/// The float epilogue of a quantized product (int32 → float, · wScale, · xScale, + bias) rounds a
/// few times at 2^-24 relative to the size of the terms: 1e-6 of Σ|x·w| + |bias| is ample.
private let floatSumSlack = 1e-6

private struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func q8() -> Int8 { Int8(Int(next() % 255) - 127) }   // weights: never -128
    mutating func x8() -> Int8 { Int8(Int(next() % 256) - 128) }   // activations: every byte
    mutating func unit() -> Float { Float(next() % 2_000_001) / 1_000_000 - 1 }
}

final class Int8KernelsTests: XCTestCase {
    private var saved = KernelISA.current

    override func setUp() { saved = KernelISA.current }
    override func tearDown() { KernelISA.force(saved) }

    /// The dispatched path, the forced portable one, and every other path this CPU can run
    /// (on an AVX-VNNI machine the AVX2 path is not the dispatched one but must stay correct).
    private func paths() -> [KernelISA] {
        var out = [saved]
        for isa in KernelISA.allCases where isa != saved {
            if KernelISA.force(isa) == isa { out.append(isa) }
        }
        KernelISA.force(saved)
        return out
    }

    /// POCKETCLIP_ISA caps the first choice (tools/ci/test.sh runs the suites under each cap): the
    /// path in use must be one this CPU runs, at or below the cap's rung
    /// (tools/ci/test-c-kernels.sh checks which path each cap gives).
    func testDispatchStaysWithinTheCap() {
        let named = ProcessInfo.processInfo.environment["POCKETCLIP_ISA"]
        print("dispatched \(saved.name) (POCKETCLIP_ISA=\(named ?? "unset"))")
        XCTAssertEqual(KernelISA.force(saved), saved, "the dispatched path must be one this CPU runs")
        guard let cap = KernelISA.allCases.first(where: { $0.name == named }) else { return }  // no cap
        let rung: [KernelISA: Int] = [.portable: 0, .avx2: 1, .avxVNNI: 2, .avx512VNNI: 3, .neon: 1, .neonDotprod: 2]
        let arm: Set<KernelISA> = [.neon, .neonDotprod]
        if cap == .portable || arm.contains(cap) == arm.contains(saved) {  // a cap of the other family changes nothing
            XCTAssertLessThanOrEqual(rung[saved]!, rung[cap]!, "\(saved.name) is above the cap \(cap.name)")
        }
    }

    private struct Case { let m, n, k, group: Int }
    private let cases: [Case] = [
        Case(m: 1, n: 1, k: 1, group: 1), Case(m: 3, n: 17, k: 7, group: 7), Case(m: 1, n: 33, k: 33, group: 33),
        Case(m: 50, n: 50, k: 100, group: 4), Case(m: 77, n: 19, k: 96, group: 32), Case(m: 3, n: 31, k: 513, group: 513),
        Case(m: 50, n: 65, k: 768, group: 768), Case(m: 77, n: 47, k: 768, group: 64), Case(m: 5, n: 21, k: 3072, group: 3072),
    ]

    private func randomOperands(_ c: Case, seed: UInt64) -> (x: [Int8], zp: [Int32], w: [Int8]) {
        var rng = Rng(state: seed)
        var x = (0..<(c.m * c.k)).map { _ in rng.x8() }
        var w = (0..<(c.n * c.k)).map { _ in rng.q8() }
        var zp = (0..<c.m).map { _ in Int32(rng.next() % 256) }
        // The worst cases of the sign and offset tricks: row 0 all -128 against column 0 of ±127
        // in pairs (every vpmaddubsw / smlal pair is ±2·128·127), row 1 all 127 (255 for
        // vpdpbusd); the zero points' ends 255 and 0 on those rows.
        for t in 0..<c.k { x[t] = -128; w[t] = t & 2 == 0 ? 127 : -127 }
        zp[0] = 255
        if c.m > 1 { for t in 0..<c.k { x[c.k + t] = 127 }; zp[1] = 0 }
        // Column 1 all 127: against row 1 the unsigned sum D = 255·127·k is the largest there is
        // (beyond 2^24 from k = 519 on, where the float steps round).
        if c.n > 1 { for t in 0..<c.k { w[c.k + t] = 127 } }
        return (x, zp, w)
    }

    func testIntegerDotProductsAreExactOrWithinRoundingBound() throws {
        var exactCells = 0, boundedCells = 0
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            for (ci, c) in cases.enumerated() {
                let (x, zp, w) = randomOperands(c, seed: 0x1234 + UInt64(ci))
                let groups = c.k / c.group
                let ones = [Float](repeating: 1, count: max(c.m, c.n * groups))
                let packed = try PackedQ8Matrix(weights: w, scales: ones, n: c.n, k: c.k, group: c.group)
                XCTAssertTrue(packed.usesFastKernels)
                var y = [Float](repeating: .nan, count: c.m * c.n)
                gemmQ8(x, xScales: ones, xZeroPoints: zp, packed, bias: nil, &y, m: c.m)
                let dots = Int8Reference.groupDotProducts(x, xZeroPoints: zp, w, m: c.m, n: c.n, k: c.k, group: c.group)
                for i in 0..<c.m {
                    for j in 0..<c.n {
                        var expected: Int64 = 0, magnitude: Int64 = 0
                        for g in 0..<groups {
                            expected += Int64(dots[(i * c.n + j) * groups + g])
                            var d: Int64 = 0, colsum: Int64 = 0
                            for t in (g * c.group)..<((g + 1) * c.group) {
                                d += (Int64(x[i * c.k + t]) + 128) * Int64(w[j * c.k + t])
                                colsum += Int64(w[j * c.k + t])
                            }
                            magnitude += abs(d) + Int64(zp[i]) * abs(colsum)
                        }
                        let at = "\(isa.name) m=\(c.m) n=\(c.n) k=\(c.k) g=\(c.group) at [\(i), \(j)]"
                        if magnitude < 1 << 24 {
                            exactCells += 1
                            XCTAssertEqual(y[i * c.n + j], Float(expected), accuracy: integerTolerance, at)
                        } else {
                            boundedCells += 1
                            XCTAssertLessThanOrEqual(abs(Double(y[i * c.n + j]) - Double(expected)),
                                                     integerRoundingBound(groups: groups, magnitude: Double(magnitude)), at)
                        }
                    }
                }
            }
        }
        // Both regimes must occur, or one of the checks above tested nothing.
        XCTAssertGreaterThan(exactCells, 0)
        XCTAssertGreaterThan(boundedCells, 0)
    }

    func testScaledOutputMatchesReferenceOnAnyColumnSplit() throws {
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            for (ci, c) in cases.enumerated() {
                var rng = Rng(state: 0xabcd + UInt64(ci))
                let (x, zp, w) = randomOperands(c, seed: 0x5678 + UInt64(ci))
                let groups = c.k / c.group
                let xs = (0..<c.m).map { _ in 0.02 + 0.01 * rng.unit() }
                let ws = (0..<(c.n * groups)).map { _ in 0.015 + 0.01 * rng.unit() }
                let bias = (0..<c.n).map { _ in rng.unit() }
                let packed = try PackedQ8Matrix(weights: w, scales: ws, n: c.n, k: c.k, group: c.group)
                // Reference over all columns; kernel in three ranges that cut panels, written into
                // a wider output (ldy > n) so the stride is exercised too.
                let ldy = c.n + 3
                var ref = [Float](repeating: 0, count: c.m * ldy)
                Int8Reference.gemm(x, xScales: xs, xZeroPoints: zp, w, wScales: ws, bias: bias, &ref, ldy: ldy,
                                   m: c.m, n: c.n, k: c.k, group: c.group, columns: 0..<c.n)
                var y = [Float](repeating: .nan, count: c.m * ldy)
                let a = c.n / 3, b = c.n - c.n / 5
                for r in [a..<b, 0..<a, b..<c.n] {
                    gemmQ8(x, xScales: xs, xZeroPoints: zp, packed, bias: bias, &y, m: c.m, columns: r, ldy: ldy)
                }
                var whole = [Float](repeating: .nan, count: c.m * ldy)
                gemmQ8(x, xScales: xs, xZeroPoints: zp, packed, bias: bias, &whole, m: c.m, ldy: ldy)
                for i in 0..<c.m {
                    for j in 0..<c.n {
                        let at = i * ldy + j
                        // Every path performs the reference's roundings in its order, fused exactly
                        // where the definition fuses (Int8Reference.gemm): the same bits, as the C
                        // test asserts for every ISA path natively and under qemu.
                        XCTAssertEqual(y[at].bitPattern, ref[at].bitPattern,
                                       "\(isa.name) m=\(c.m) n=\(c.n) k=\(c.k) g=\(c.group) at [\(i), \(j)]: \(y[at]) vs \(ref[at])")
                        XCTAssertEqual(y[at].bitPattern, whole[at].bitPattern, "a column's value depends on the split")
                    }
                    for j in c.n..<ldy { XCTAssertTrue(y[i * ldy + j].isNaN, "wrote past the n columns") }
                }
            }
        }
    }

    /// Rows of `k` floats, one per kind the quantizer must get right, in this order: exact ties
    /// (lo -100, hi 155: scale 1, zp 100, x / scale = n.5), all zero (scale 0), subnormals, a
    /// zero point that is itself a tie (-lo / scale = 2.5) with near-ties 0.49999997, all
    /// positive (post-GELU), all negative, one huge outlier among small values, plain random.
    private func quantizerRows(k: Int) -> [Float] {
        var rng = Rng(state: UInt64(k))
        var x = (0..<(8 * k)).map { _ in 3 * rng.unit() }
        for t in 0..<k { x[t] = Float(t % 254 - 99) + (t & 1 == 1 ? 0.5 : -0.5) }
        x[0] = -100
        if k > 1 { x[1] = 155 }
        for t in 0..<k { x[k + t] = 0 }
        for t in 0..<k { x[2 * k + t] = Float.leastNormalMagnitude / 1000 * rng.unit() }
        for t in 0..<k { x[3 * k + t] = t & 1 == 1 ? 0.49999997 : -0.49999997 }
        x[3 * k] = -2.5
        if k > 1 { x[3 * k + 1] = 252.5 }
        for t in 0..<k { x[4 * k + t] = 2 * abs(rng.unit()) }
        for t in 0..<k { x[5 * k + t] = -abs(rng.unit()) - 0.5 }
        for t in 0..<k { x[6 * k + t] = 0.1 * rng.unit() }
        x[6 * k + k / 2] = 1e4
        return x
    }

    func testQuantizeRowsIsByteIdenticalToReference() {
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            for k in [1, 7, 31, 32, 33, 768, 3072] {
                let rows = 8
                let x = quantizerRows(k: k)
                var q = [Int8](repeating: 99, count: rows * k), s = [Float](repeating: .nan, count: rows)
                var z = [Int32](repeating: -1, count: rows)
                var rq = q, rs = s, rz = z
                quantizeRows(x, rows: rows, k: k, q: &q, scales: &s, zeroPoints: &z)
                Int8Reference.quantizeRows(x, rows: rows, k: k, q: &rq, scales: &rs, zeroPoints: &rz)
                XCTAssertEqual(q, rq, "\(isa.name) k=\(k)")
                XCTAssertEqual(s.map(\.bitPattern), rs.map(\.bitPattern), "\(isa.name) k=\(k)")
                XCTAssertEqual(z, rz, "\(isa.name) k=\(k)")
            }
        }
    }

    /// What the reference's bytes mean: x ≈ scale · (q + 128 − zp) within half a step, 0 exactly
    /// representable, and the zero point where the row's sign says it must be.
    func testQuantizedRowsDequantizeWithinHalfAStep() {
        let k = 33, rows = 8
        let x = quantizerRows(k: k)
        var q = [Int8](repeating: 0, count: rows * k), s = [Float](repeating: 0, count: rows)
        var z = [Int32](repeating: 0, count: rows)
        Int8Reference.quantizeRows(x, rows: rows, k: k, q: &q, scales: &s, zeroPoints: &z)
        for r in 0..<rows {
            for t in 0..<k {
                let back = Double(s[r]) * Double(Int32(q[r * k + t]) + 128 - z[r]), v = Double(x[r * k + t])
                XCTAssertLessThanOrEqual(abs(back - v), halfStepTolerance * Double(s[r]) + subnormalScaleSlack,
                                         "row \(r) [\(t)]")
                if v == 0 { XCTAssertEqual(back, 0, "row \(r): 0 must stay 0") }
            }
        }
        XCTAssertEqual(s[0], 1)
        XCTAssertEqual(z[0], 100)
        XCTAssertEqual(s[1], 0, "all zero")
        XCTAssertEqual(z[1], 128, "all zero")
        XCTAssertEqual(z[3], 3, "-lo / scale = 2.5 rounds away from zero")
        XCTAssertEqual(z[4], 0, "all positive: every level on [0, max]")
        XCTAssertEqual(q[(4 * k)..<(5 * k)].max(), 127, "all positive: the top level is used")
        XCTAssertEqual(z[5], 255, "all negative: every level on [min, 0]")
        XCTAssertEqual(q[6 * k + k / 2], 127, "the outlier takes the top level")
    }

    /// The whole chain on real rows (quantize, then gemm), dispatched and forced paths alike:
    /// bit-identical to the reference chain, and within the quantization error of the float
    /// product with the dequantized weights, |Σ (x − x̂)·ŵ| <= scale / 2 · Σ|ŵ|.
    func testQuantizedLinearIsReferenceExactAndCloseToFloat() throws {
        let k = 768, n = 37, rows = 8
        let x = quantizerRows(k: k)
        var rng = Rng(state: 99)
        let w = (0..<(n * k)).map { _ in rng.q8() }
        let ws = (0..<n).map { _ in 0.01 + 0.005 * rng.unit() }
        let bias = (0..<n).map { _ in rng.unit() }
        let packed = try PackedQ8Matrix(weights: w, scales: ws, n: n, k: k, group: k)
        var rq = [Int8](repeating: 0, count: rows * k), rs = [Float](repeating: 0, count: rows)
        var rz = [Int32](repeating: 0, count: rows)
        Int8Reference.quantizeRows(x, rows: rows, k: k, q: &rq, scales: &rs, zeroPoints: &rz)
        var ref = [Float](repeating: 0, count: rows * n)
        Int8Reference.gemm(rq, xScales: rs, xZeroPoints: rz, w, wScales: ws, bias: bias, &ref, ldy: n,
                           m: rows, n: n, k: k, group: k, columns: 0..<n)
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            var q = rq, s = rs, z = rz
            quantizeRows(x, rows: rows, k: k, q: &q, scales: &s, zeroPoints: &z)
            var y = [Float](repeating: .nan, count: rows * n)
            gemmQ8(q, xScales: s, xZeroPoints: z, packed, bias: bias, &y, m: rows)
            XCTAssertEqual(y.map(\.bitPattern), ref.map(\.bitPattern), isa.name)
        }
        for r in 0..<rows {
            for j in 0..<n {
                var exact = Double(bias[j]), bound = 0.0, size = abs(Double(bias[j]))
                for t in 0..<k {
                    let wt = Double(w[j * k + t]) * Double(ws[j])
                    exact += Double(x[r * k + t]) * wt
                    bound += abs(wt)
                    size += abs(Double(x[r * k + t]) * wt)
                }
                let allowed = halfStepTolerance * Double(rs[r]) * bound + floatSumSlack * size
                XCTAssertLessThanOrEqual(abs(Double(ref[r * n + j]) - exact), allowed, "row \(r) column \(j)")
            }
        }
    }

    /// A group size the panels cannot hold (not k, not a multiple of 4) still computes, through
    /// the reference; a group that does not divide k is refused with a descriptive error.
    func testUnpackableGroupFallsBackAndBadGroupThrows() throws {
        let c = Case(m: 3, n: 5, k: 30, group: 6)
        let (x, zp, w) = randomOperands(c, seed: 7)
        let ws = [Float](repeating: 0.01, count: c.n * 5), xs: [Float] = [0.1, 0.2, 0.3]
        let packed = try PackedQ8Matrix(weights: w, scales: ws, n: c.n, k: c.k, group: c.group)
        XCTAssertFalse(packed.usesFastKernels)
        var y = [Float](repeating: 0, count: 15), ref = y
        gemmQ8(x, xScales: xs, xZeroPoints: zp, packed, bias: nil, &y, m: 3)
        Int8Reference.gemm(x, xScales: xs, xZeroPoints: zp, w, wScales: ws, bias: nil, &ref, ldy: 5, m: 3, n: 5,
                           k: 30, group: 6, columns: 0..<5)
        XCTAssertEqual(y, ref)
        XCTAssertThrowsError(try PackedQ8Matrix(weights: w, scales: ws, n: 5, k: 30, group: 7)) { error in
            XCTAssertEqual(error as? Int8KernelError, .badShape(n: 5, k: 30, group: 7))
            XCTAssertTrue("\(error)".contains("divides k"))
        }
    }

    func testColumnSplitCoversAllColumnsOnPanelBoundaries() throws {
        for n in [1, 15, 16, 17, 50, 768, 2304] {
            let w = try PackedQ8Matrix(weights: [Int8](repeating: 1, count: n * 4), scales: [Float](repeating: 1, count: n),
                                       n: n, k: 4, group: 4)
            for parts in [1, 2, 3, 7] {
                var next = 0
                for part in 0..<parts {
                    let r = w.columnSplit(part, of: parts)
                    XCTAssertEqual(r.lowerBound, next, "n=\(n) parts=\(parts)")
                    XCTAssertTrue(r.lowerBound % PackedQ8Matrix.panelColumns == 0 || r.isEmpty)
                    next = r.upperBound
                }
                XCTAssertEqual(next, n)
            }
        }
    }

    func testForcingPathsTakesEffectAndRefusesMissingOnes() {
        XCTAssertEqual(KernelISA.force(.portable), .portable)
        XCTAssertEqual(KernelISA.current, .portable)
        #if arch(x86_64)
        // An ARM path cannot run here: the request is refused and the current path kept.
        XCTAssertEqual(KernelISA.force(.neonDotprod), .portable)
        #elseif arch(arm64)
        XCTAssertEqual(KernelISA.force(.avx2), .portable)
        #endif
        XCTAssertEqual(KernelISA.force(saved), saved)
    }
}
