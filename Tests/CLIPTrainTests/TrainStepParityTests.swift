// One and two training steps of a tiny CLIP against open_clip + torch.optim.AdamW
// (golden: tools/goldens/train-step-parity.py, reference run in float64 from the same float32
// weights).

@testable import CLIPTrain
import Foundation
import XCTest

/// Reads the tensors of a safetensors file (F32 and I32 only: all the golden holds).
struct GoldenFile {
    var floats: [String: [Float]] = [:]
    var ints: [String: [Int32]] = [:]
    var shapes: [String: [Int]] = [:]

    init(_ url: URL) throws {
        let data = try Data(contentsOf: url)
        let headerLen = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLen))) as! [String: Any]
        let base = 8 + headerLen
        for (name, entry) in header where name != "__metadata__" {
            let e = entry as! [String: Any]
            let range = e["data_offsets"] as! [Int]
            let bytes = data.subdata(in: (base + range[0])..<(base + range[1]))
            shapes[name] = e["shape"] as? [Int]
            switch e["dtype"] as! String {
            case "F32": floats[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            case "I32": ints[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
            case let d: XCTFail("unexpected dtype \(d) for \(name)")
            }
        }
    }
}

final class TrainStepParityTests: XCTestCase {
    /// float32's unit roundoff.
    static let u = Float(1) / Float(1 << 24)
    /// Forward and backward each chain ~20 float32 steps (2 blocks per tower, the heads, the
    /// loss), each a sum of at most B·T = 4·17 = 68 products, in whatever order and with or
    /// without FMA the CPU's BLAS kernel uses. The worst-case rounding of one such sum is
    /// γ₆₈ = 68u/(1 − 68u) ≈ 4.1e-6 of its absolute terms (any order: Higham, Thm 3.1), so the
    /// loss (forward, ~20 steps) is within ~20·γ₆₈ ≈ 8e-5 and each gradient (tensor ∞-norm
    /// relative, ~40 steps) within ~1.6e-4 of the exact value the float64 reference is — on any
    /// CPU. A real error (a wrong mask, a missing LayerNorm or bias, a transposed weight) moves
    /// them by > 1e-2.
    static let lossTolerance: Float = 1e-4
    static let gradientTolerance: Float = 2e-4
    /// One AdamW update in Float next to the same update in Double from the same inputs: the
    /// Float path rounds ~10 times (decay product, two moments, √v, the divisions and the step),
    /// each ≤ u of its operand, so it stays within 16u of |p| + |step| (|step| ≤ lr·|m̂|/√v̂ ≤ ~1.001·lr
    /// per unit of the schedule, see `adamBound`). Removing a bias correction changes the step
    /// of every element by ≥ 29% of lr; a wrong sign, decay or ε by more than this too.
    static let updateRoundingPerMagnitude: Float = 16 * u

    static let quickGELU = TrainConfig(imageSize: 16, patchSize: 4, vision: .init(width: 16, layers: 2, heads: 2),
                                     vocabularySize: 64, contextLength: 8, text: .init(width: 16, layers: 2, heads: 2),
                                     embedDim: 8, activation: .quickGELU)

    func fixture(_ name: String) throws -> GoldenFile {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/train/\(name)")
        return try GoldenFile(url)
    }

    func testQuickGELUStepsMatchOpenCLIP() throws {
        try checkSteps(try fixture("train_step.safetensors"), Self.quickGELU)
    }

    func testGELUStepsMatchOpenCLIP() throws {
        var config = Self.quickGELU
        config.activation = .gelu
        try checkSteps(try fixture("train_step_gelu.safetensors"), config)
    }

    /// Two steps against open_clip + torch.optim.AdamW. The loss and gradients are held to the
    /// rounding bounds above. The parameters cannot be held to one fixed tolerance: AdamW divides
    /// by |g| + ε, so where a gradient is near ε (1e-6) it turns a rounding difference of the
    /// gradient into a step difference up to lr — more or less of it on each CPU's BLAS. So each
    /// step is checked twice instead, each check exact for its part:
    /// 1. the update rule: the Swift step equals the Double AdamW step fed with the Swift
    ///    gradients, within Float rounding (`updateRoundingPerMagnitude`);
    /// 2. against torch: per element, the parameter difference is at most what AdamW can make
    ///    of the two sides' gradient difference (`adamBound`, from the derivative of the update),
    ///    plus what the earlier step already differed by and the rounding of both sides.
    func checkSteps(_ golden: GoldenFile, _ config: TrainConfig) throws {
        let model = try CLIPTrainModel(config: config, seed: 0)
        XCTAssertEqual(golden.floats.keys.filter { $0.hasPrefix("init.") }.count, model.layout.views.count)
        for v in model.layout.views {
            try model.setTensor(v.name, XCTUnwrap(golden.floats["init." + v.name], v.name))
        }
        let images = try XCTUnwrap(golden.floats["images"]), tokens = try XCTUnwrap(golden.ints["tokens"])
        let refLoss = try XCTUnwrap(golden.floats["loss"])
        let opt = AdamW(model: model)  // CLIP's defaults: β (0.9, 0.98), ε 1e-6, decay 0.2
        let lr: Float = 1e-3
        var reference = DoubleAdamW(opt)
        var previous: [String: [Float]] = [:]  // |Δp| after the step before, per tensor
        var worstGrad: Float = 0, worstName = "", worstUse: Float = 0, worstUseName = ""
        for step in 1...2 {
            let loss = try model.lossAndGradients(images: images, tokens: tokens, batchSize: 4)
            XCTAssertEqual(loss, refLoss[step - 1], accuracy: Self.lossTolerance * refLoss[step - 1], "loss of step \(step)")
            let gradPrefix = step == 1 ? "grad." : "grad2.", stepPrefix = "step\(step)."
            var before: [String: [Float]] = [:], grads: [String: [Float]] = [:]
            for v in model.layout.views {
                before[v.name] = try model.tensor(v.name)
                grads[v.name] = try model.gradient(v.name)
                let err = relativeError(grads[v.name]!, try XCTUnwrap(golden.floats[gradPrefix + v.name], gradPrefix + v.name))
                if err > worstGrad { worstGrad = err; worstName = "\(step): \(v.name)" }
                XCTAssertLessThanOrEqual(err, Self.gradientTolerance, "gradient of \(v.name), step \(step)")
            }
            opt.step(model, lr: lr)
            for v in model.layout.views {
                let got = try model.tensor(v.name), g = grads[v.name]!
                let ref = try XCTUnwrap(golden.floats[stepPrefix + v.name]), gRef = try XCTUnwrap(golden.floats[gradPrefix + v.name])
                // 1. The update rule, on the Swift side's own inputs.
                let exact = reference.step(v, parameters: before[v.name]!, gradients: g, lr: Double(lr))
                for i in got.indices {
                    let slack = Self.updateRoundingPerMagnitude * (abs(before[v.name]![i]) + 2 * lr)
                    if abs(Double(got[i]) - exact[i]) > Double(slack) {
                        XCTFail("\(stepPrefix)\(v.name)[\(i)]: AdamW gave \(got[i]), its rule in Double \(exact[i])"); break
                    }
                }
                // 2. Against torch, element by element.
                let decay = v.kind.decays ? 1 - lr * opt.weightDecay : 1
                for i in got.indices {
                    let fromGradients = adamBound(step: step, opt, lr: lr, swift: reference.history(v.name, i),
                                                  torch: step == 1 ? [gRef[i]] : [try XCTUnwrap(golden.floats["grad." + v.name])[i], gRef[i]])
                    let carried = decay * (previous[v.name]?[i] ?? 0)
                    let rounding = Self.updateRoundingPerMagnitude * (abs(before[v.name]![i]) + 2 * lr) + Self.u * abs(ref[i])
                    let bound = fromGradients + carried + rounding
                    let diff = abs(got[i] - ref[i])
                    if diff / bound > worstUse { worstUse = diff / bound; worstUseName = "\(stepPrefix)\(v.name)[\(i)]" }
                    if diff > bound {
                        XCTFail("\(stepPrefix)\(v.name)[\(i)]: \(got[i]) vs torch \(ref[i]); AdamW of the gradients "
                                + "(\(g[i]) vs \(gRef[i])) explains at most \(bound)"); break
                    }
                }
                previous[v.name] = zip(got, ref).map { abs($0 - $1) }
            }
        }
        print("parity \(config.activation.rawValue): worst gradient rel error \(worstGrad) (step \(worstName)); "
              + "worst parameter difference \(worstUse) of its derived bound (\(worstUseName))")
    }
}

/// The most one AdamW step (β₁, β₂, ε of `opt`, at step 1 or 2) can differ by between two
/// gradient histories, from the update's derivative. Step 1 moves a weight by
/// lr·g/(|g| + ε), whose derivative ε/(|g| + ε)² is largest where g is nearest 0 on the segment
/// between the two sides' gradients. Step 2 moves it by lr·m̂/(√v̂ + ε) with
/// m̂ = α₁g₁ + α₂g₂, v̂ = c₁g₁² + c₂g₂² (αⱼ, cⱼ the bias-corrected moment weights); Cauchy–Schwarz
/// gives |m̂| ≤ k√v̂ with k = √(α₁²/c₁ + α₂²/c₂) (1.0009 for CLIP's betas), so
/// |∂step/∂gⱼ| ≤ lr·(αⱼ + k√cⱼ)/(√v̂ₘᵢₙ + ε) over the box between the two histories. Each side's
/// gradient difference counts one float32 rounding of the stored reference too. Never more than
/// the whole range of the step, 2·k·lr.
func adamBound(step: Int, _ opt: AdamW, lr: Float, swift: [Float], torch: [Float]) -> Float {
    let u = Double(TrainStepParityTests.u), eps = Double(opt.eps)
    func nearestZero(_ a: Float, _ b: Float) -> Double { a.sign != b.sign ? 0 : Double(min(abs(a), abs(b))) }
    func delta(_ j: Int) -> Double { Double(abs(swift[j] - torch[j])) + u * Double(abs(torch[j])) }
    let b1 = Double(opt.beta1), b2 = Double(opt.beta2)
    if step == 1 {
        let m = nearestZero(swift[0], torch[0])
        return Float(min(2, delta(0) * eps / ((m + eps) * (m + eps))) * Double(lr))
    }
    let alpha = [b1 / (1 + b1), 1 / (1 + b1)], c = [b2 / (1 + b2), 1 / (1 + b2)]
    let k = (alpha[0] * alpha[0] / c[0] + alpha[1] * alpha[1] / c[1]).squareRoot()
    var vMin = 0.0
    for j in 0..<2 { let m = nearestZero(swift[j], torch[j]); vMin += c[j] * m * m }
    var sum = 0.0
    for j in 0..<2 { sum += (alpha[j] + k * c[j].squareRoot()) * delta(j) }
    return Float(min(2 * k, sum / (vMin.squareRoot() + eps)) * Double(lr))
}

/// torch.optim.AdamW's update in Double (decay, moments, bias-corrected step, then open_clip's
/// clamp of the logit scale), kept per tensor so each step can be recomputed from the Swift
/// side's own parameters and gradients.
struct DoubleAdamW {
    let beta1, beta2, eps, weightDecay: Double
    var m: [String: [Double]] = [:], v: [String: [Double]] = [:], t: [String: Int] = [:]
    var gradients: [String: [[Float]]] = [:]

    init(_ opt: AdamW) {
        beta1 = Double(opt.beta1); beta2 = Double(opt.beta2); eps = Double(opt.eps); weightDecay = Double(opt.weightDecay)
    }

    /// The Swift gradients of `name[i]` over the steps taken so far.
    func history(_ name: String, _ i: Int) -> [Float] { (gradients[name] ?? []).map { $0[i] } }

    mutating func step(_ view: ParameterView, parameters p: [Float], gradients g: [Float], lr: Double) -> [Double] {
        let steps = (t[view.name] ?? 0) + 1
        t[view.name] = steps
        var mt = m[view.name] ?? Array(repeating: 0, count: p.count), vt = v[view.name] ?? Array(repeating: 0, count: p.count)
        let bc1 = 1 - pow(beta1, Double(steps)), bc2 = 1 - pow(beta2, Double(steps))
        var out = [Double](repeating: 0, count: p.count)
        for i in p.indices {
            let gi = Double(g[i])
            mt[i] = beta1 * mt[i] + (1 - beta1) * gi
            vt[i] = beta2 * vt[i] + (1 - beta2) * gi * gi
            out[i] = Double(p[i]) * (view.kind.decays ? 1 - lr * weightDecay : 1)
                - lr / bc1 * mt[i] / ((vt[i] / bc2).squareRoot() + eps)
            if view.name == "logit_scale" { out[i] = min(max(out[i], 0), Double(maxLogLogitScale)) }
        }
        m[view.name] = mt; v[view.name] = vt
        gradients[view.name, default: []].append(g)
        return out
    }
}
