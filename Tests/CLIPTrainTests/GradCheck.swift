// Finite-difference gradient checking shared by the op and model tests.

import CLIPTrain
import XCTest

/// Central-difference step. The ops run in Float: the probe loss (O(10)) is rounded at ~1e-7
/// relative, so the difference quotient carries ~1e-7·10 / (2h) ≈ 5e-4 of noise with h = 1e-3,
/// and the O(h²) truncation error is ~1e-6; both far below the tolerance.
let gradCheckStep: Float = 1e-3
/// Largest accepted ‖analytic − numeric‖∞ / max(‖analytic‖∞, ‖numeric‖∞) per input tensor.
/// 1e-2 leaves a 20× margin over the rounding noise above while a wrong term in a backward
/// pass (a missing factor, a transposed index) gives errors of order 1.
let gradCheckTolerance: Float = 1e-2

/// Deterministic test data: uniform in [−scale, scale].
func randomArray(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var r = SeededNormal(seed: seed)
    return (0..<n).map { _ in Float(r.uniform() * 2 - 1) * scale }
}

/// Checks `backward` against central differences of the probe loss Σ out·w (w random, fixed),
/// for every element of every input in `check`. Returns the worst relative error.
@discardableResult
func gradCheck(_ name: String, inputs: [[Float]], check: [Int]? = nil,
               forward: ([[Float]]) -> [Float],
               backward: ([[Float]], [Float]) -> [[Float]],
               file: StaticString = #filePath, line: UInt = #line) -> Float {
    let out0 = forward(inputs)
    let w = randomArray(out0.count, seed: 991)
    func probe(_ x: [[Float]]) -> Double {
        let o = forward(x)
        var s: Double = 0
        for i in 0..<o.count { s += Double(o[i]) * Double(w[i]) }
        return s
    }
    let analytic = backward(inputs, w)
    var worst: Float = 0
    for k in check ?? Array(inputs.indices) {
        var x = inputs
        var numeric = [Float](repeating: 0, count: x[k].count)
        for i in 0..<x[k].count {
            let v = x[k][i]
            x[k][i] = v + gradCheckStep; let up = probe(x)
            x[k][i] = v - gradCheckStep; let down = probe(x)
            x[k][i] = v
            numeric[i] = Float((up - down) / Double(2 * gradCheckStep))
        }
        let err = relativeError(analytic[k], numeric)
        worst = max(worst, err)
        XCTAssertLessThanOrEqual(err, gradCheckTolerance, "\(name): input \(k) gradient", file: file, line: line)
    }
    print("gradcheck \(name): max relative error \(worst)")
    return worst
}

/// ‖a − b‖∞ / max(‖a‖∞, ‖b‖∞); 0 when both are exactly zero.
func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var diff: Float = 0, scale: Float = 0
    for i in 0..<a.count { diff = max(diff, abs(a[i] - b[i])); scale = max(scale, abs(a[i]), abs(b[i])) }
    return scale == 0 ? 0 : diff / scale
}

/// Runs `body` with mutable pointers to copies of `arrays`, returning the copies.
func withPointers(_ arrays: [[Float]], _ body: ([UnsafeMutablePointer<Float>]) -> Void) -> [[Float]] {
    let bufs = arrays.map { a -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(a.count, 1))
        p.initialize(repeating: 0, count: max(a.count, 1))
        if !a.isEmpty { a.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: a.count) } }
        return p
    }
    body(bufs)
    defer { bufs.forEach { $0.deallocate() } }
    return zip(bufs, arrays).map { Array(UnsafeBufferPointer(start: $0, count: $1.count)) }
}

func zeros(_ n: Int) -> [Float] { [Float](repeating: 0, count: n) }
