// Finite-difference gradient checking shared by the op and model tests.

import CLIPTrain
import XCTest

/// Central-difference steps. |numeric − exact| ≤ h²/6·|f‴| + ε/h, where ε is the most the probe
/// Σ w·out (|w| ≤ 1) can move by rounding between its two evaluations: only outputs that depend on
/// the perturbed element change, each a float32 result of ≤ 16 terms off by ≤ γ₁₆·Σ|terms| in any
/// summation order, FMA or not (only matmul and attention call sgemm; the rest is scalar Swift
/// and libm). Worst: attention, a key feeding 10 outputs of ≤ 18u·1.5 each, ε ≤ 1.6e-5; softmax,
/// 7 outputs of ≤ 10u, ε ≤ 4.2e-6 against its smallest gradient scale 0.16.
/// Nonlinear ops: h = 1e-2 makes the noise ≤ 1.6e-3 (2.6e-3 of softmax's scale); the truncation
/// term, a property of the function and not of the CPU (it scales as h²: 5.2e-3 at h = 3e-2),
/// is ≤ 7.1e-4 (the clamped contrastive loss; the other ops ≤ 5e-5).
let gradCheckStep: Float = 1e-2
/// Ops linear in each input (matmul, residual, embedding, position add, patchify, class token,
/// gather) have no truncation term, so a large step leaves only noise: ≤ 5 outputs × γ₈·(8·1.5)
/// / 0.5 = 5.7e-5 (matmul's bias).
let gradCheckLinearStep: Float = 0.5
/// Largest accepted ‖analytic − numeric‖∞ / max(‖analytic‖∞, ‖numeric‖∞) per input tensor.
/// The bounds above give ≤ 3.3e-3 on any CPU; a wrong term in a backward pass fails: LayerNorm's
/// dx without its mean term gives 0.21, a missing factor or a transposed index order 1.
let gradCheckTolerance: Float = 1e-2

/// Deterministic test data: uniform in [−scale, scale].
func randomArray(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var r = SeededNormal(seed: seed)
    return (0..<n).map { _ in Float(r.uniform() * 2 - 1) * scale }
}

/// Checks `backward` against central differences of the probe loss Σ out·w (w random, fixed),
/// for every element of every input in `check`. Returns the worst relative error.
@discardableResult
func gradCheck(_ name: String, inputs: [[Float]], check: [Int]? = nil, step: Float = gradCheckStep,
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
            x[k][i] = v + step; let up = probe(x)
            x[k][i] = v - step; let down = probe(x)
            x[k][i] = v
            // The step actually taken (v ± h rounds in Float: up to u·|v|/h relative at h = 1e-2).
            numeric[i] = Float((up - down) / (Double(v + step) - Double(v - step)))
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
