// Holds the C int8 kernels (dispatched path AND forced portable path) to Int8Reference.swift on
// odd shapes: m = 1, 3, 50, 77; k not a multiple of 4, 16 or 32; n odd and not a multiple of the
// 16-column panel; column ranges that cut panels; group sizes from 4 to k.
import CLIPKernels
import XCTest

/// Integer results must be exact: with unit scales and no bias the float output IS the int32
/// dot product (every |sum| here is checked to be < 2^24, where Float holds integers exactly).
private let integerTolerance: Float = 0

/// Scaled results: the kernels round the epilogue (Float(acc)·wScale, sums over groups, ·xScale,
/// + bias) in the reference's order without fused multiply-adds, so they are bit-identical in
/// practice (the C test asserts that). The tolerance only leaves room for a compiler that fuses a
/// multiply-add in the Swift reference: 4 ulps of the terms' magnitude (4 · 2^-24 relative).
/// An error of one in any integer sum is >= 1/127² ≈ 6e-5 relative, far above it.
private let scaledRelativeTolerance: Float = 4 * 0x1p-24

private struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func q8() -> Int8 { Int8(Int(next() % 255) - 127) }
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

    private struct Case { let m, n, k, group: Int }
    private let cases: [Case] = [
        Case(m: 1, n: 1, k: 1, group: 1), Case(m: 3, n: 17, k: 7, group: 7), Case(m: 1, n: 33, k: 33, group: 33),
        Case(m: 50, n: 50, k: 100, group: 4), Case(m: 77, n: 19, k: 96, group: 32), Case(m: 3, n: 31, k: 513, group: 513),
        Case(m: 50, n: 65, k: 768, group: 768), Case(m: 77, n: 47, k: 768, group: 64), Case(m: 5, n: 21, k: 3072, group: 3072),
    ]

    private func randomOperands(_ c: Case, seed: UInt64) -> (x: [Int8], w: [Int8]) {
        var rng = Rng(state: seed)
        var x = (0..<(c.m * c.k)).map { _ in rng.q8() }
        var w = (0..<(c.n * c.k)).map { _ in rng.q8() }
        // The worst case of the sign and offset tricks: a row and a column of ±127.
        for t in 0..<c.k { x[t] = t & 1 == 0 ? 127 : -127; w[t] = t & 2 == 0 ? 127 : -127 }
        return (x, w)
    }

    func testIntegerDotProductsAreExact() throws {
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            for (ci, c) in cases.enumerated() {
                let (x, w) = randomOperands(c, seed: 0x1234 + UInt64(ci))
                let groups = c.k / c.group
                let ones = [Float](repeating: 1, count: max(c.m, c.n * groups))
                let packed = try PackedQ8Matrix(weights: w, scales: ones, n: c.n, k: c.k, group: c.group)
                XCTAssertTrue(packed.usesFastKernels)
                var y = [Float](repeating: .nan, count: c.m * c.n)
                gemmQ8(x, xScales: ones, packed, bias: nil, &y, m: c.m)
                let dots = Int8Reference.groupDotProducts(x, w, m: c.m, n: c.n, k: c.k, group: c.group)
                for i in 0..<c.m {
                    for j in 0..<c.n {
                        var expected: Int64 = 0
                        for g in 0..<groups { expected += Int64(dots[(i * c.n + j) * groups + g]) }
                        XCTAssertLessThan(abs(expected), 1 << 24, "the exactness argument needs |sum| < 2^24")
                        XCTAssertEqual(y[i * c.n + j], Float(expected), accuracy: integerTolerance,
                                       "\(isa.name) m=\(c.m) n=\(c.n) k=\(c.k) g=\(c.group) at [\(i), \(j)]")
                    }
                }
            }
        }
    }

    func testScaledOutputMatchesReferenceOnAnyColumnSplit() throws {
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            for (ci, c) in cases.enumerated() {
                var rng = Rng(state: 0xabcd + UInt64(ci))
                let (x, w) = randomOperands(c, seed: 0x5678 + UInt64(ci))
                let groups = c.k / c.group
                let xs = (0..<c.m).map { _ in 0.02 + 0.01 * rng.unit() }
                let ws = (0..<(c.n * groups)).map { _ in 0.015 + 0.01 * rng.unit() }
                let bias = (0..<c.n).map { _ in rng.unit() }
                let packed = try PackedQ8Matrix(weights: w, scales: ws, n: c.n, k: c.k, group: c.group)
                // Reference over all columns; kernel in three ranges that cut panels, written into
                // a wider output (ldy > n) so the stride is exercised too.
                let ldy = c.n + 3
                var ref = [Float](repeating: 0, count: c.m * ldy)
                Int8Reference.gemm(x, xScales: xs, w, wScales: ws, bias: bias, &ref, ldy: ldy,
                                   m: c.m, n: c.n, k: c.k, group: c.group, columns: 0..<c.n)
                var y = [Float](repeating: .nan, count: c.m * ldy)
                let a = c.n / 3, b = c.n - c.n / 5
                for r in [a..<b, 0..<a, b..<c.n] {
                    gemmQ8(x, xScales: xs, packed, bias: bias, &y, m: c.m, columns: r, ldy: ldy)
                }
                var whole = [Float](repeating: .nan, count: c.m * ldy)
                gemmQ8(x, xScales: xs, packed, bias: bias, &whole, m: c.m, ldy: ldy)
                for i in 0..<c.m {
                    for j in 0..<c.n {
                        let at = i * ldy + j
                        // Magnitude of the terms: Σ|dot·ws|·xs + |bias| bounds the rounding.
                        let scaleOfTerms = (abs(ref[at] - bias[j]) + abs(bias[j])) * 2 + 1e-30
                        XCTAssertEqual(y[at], ref[at], accuracy: scaledRelativeTolerance * scaleOfTerms,
                                       "\(isa.name) m=\(c.m) n=\(c.n) k=\(c.k) g=\(c.group) at [\(i), \(j)]")
                        XCTAssertEqual(y[at].bitPattern, whole[at].bitPattern, "a column's value depends on the split")
                    }
                    for j in c.n..<ldy { XCTAssertTrue(y[i * ldy + j].isNaN, "wrote past the n columns") }
                }
            }
        }
    }

    func testQuantizeRowsIsByteIdenticalToReference() {
        for isa in paths() {
            XCTAssertEqual(KernelISA.force(isa), isa)
            for k in [1, 7, 31, 32, 33, 768, 3072] {
                var rng = Rng(state: UInt64(k))
                let rows = 5
                var x = (0..<(rows * k)).map { _ in 3 * rng.unit() }
                // Row 0: amax 127 makes scale exactly 1, so every x / scale is a tie n ± 0.5.
                for t in 0..<k { x[t] = Float(t % 254 - 127) + (t & 1 == 1 ? 0.5 : -0.5) }
                x[0] = 127
                if rows > 1 { for t in 0..<k { x[k + t] = 0 } }                    // scale 0
                if rows > 2 { for t in 0..<k { x[2 * k + t] = Float.leastNormalMagnitude / 1000 * rng.unit() } }  // subnormals
                if rows > 3 { for t in 0..<k { x[3 * k + t] = t & 1 == 1 ? 0.49999997 : -0.49999997 }; x[3 * k] = 127 }
                var q = [Int8](repeating: 99, count: rows * k), s = [Float](repeating: .nan, count: rows)
                var rq = q, rs = s
                quantizeRows(x, rows: rows, k: k, q: &q, scales: &s)
                Int8Reference.quantizeRows(x, rows: rows, k: k, q: &rq, scales: &rs)
                XCTAssertEqual(q, rq, "\(isa.name) k=\(k)")
                XCTAssertEqual(s.map(\.bitPattern), rs.map(\.bitPattern), "\(isa.name) k=\(k)")
                XCTAssertTrue(q.allSatisfy { $0 != -128 })
            }
        }
    }

    /// A group size the panels cannot hold (not k, not a multiple of 4) still computes, through
    /// the reference; a group that does not divide k is refused with a descriptive error.
    func testUnpackableGroupFallsBackAndBadGroupThrows() throws {
        let c = Case(m: 3, n: 5, k: 30, group: 6)
        let (x, w) = randomOperands(c, seed: 7)
        let ws = [Float](repeating: 0.01, count: c.n * 5), xs: [Float] = [0.1, 0.2, 0.3]
        let packed = try PackedQ8Matrix(weights: w, scales: ws, n: c.n, k: c.k, group: c.group)
        XCTAssertFalse(packed.usesFastKernels)
        var y = [Float](repeating: 0, count: 15), ref = y
        gemmQ8(x, xScales: xs, packed, bias: nil, &y, m: 3)
        Int8Reference.gemm(x, xScales: xs, w, wScales: ws, bias: nil, &ref, ldy: 5, m: 3, n: 5, k: 30, group: 6,
                           columns: 0..<5)
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
