// AdamW as torch.optim.AdamW (decoupled weight decay, bias-corrected moments), with CLIP's
// exclusions: only matmul weights decay; LayerNorm gains, biases, embeddings and the logit
// scale do not. And the learning-rate schedule of open_clip: linear warm-up, then cosine to 0.

import CLIPSupport
import Dispatch

/// AdamW over a model's flat parameter buffer.
///
///     let opt = AdamW(model: model)      // CLIP's β = (0.9, 0.98), ε = 1e-6, decay 0.2
///     opt.step(model, lr: cosineLearningRate(step: s, baseLR: 5e-4, warmup: 100, totalSteps: 2000))
public final class AdamW {
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Worker threads for the update (the run's `--threads`; BLAS is idle meanwhile, so this
    /// does not oversubscribe). The update is element-wise: any split gives the same result.
    public var threads = 1
    /// Steps taken so far (the t of the bias correction).
    public private(set) var steps = 0
    private let m: FloatBuffer, v: FloatBuffer
    /// 1 where a parameter decays, 0 where it does not.
    private let decayMask: FloatBuffer

    public init(model: CLIPTrainModel, beta1: Float = 0.9, beta2: Float = 0.98, eps: Float = 1e-6,
                weightDecay: Float = 0.2) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        let n = model.layout.count
        m = FloatBuffer(n); v = FloatBuffer(n); decayMask = FloatBuffer(n)
        for view in model.layout.views where view.kind.decays {
            (decayMask.pointer + view.offset).update(repeating: 1, count: view.count)
        }
    }

    /// The moments and step count, for a checkpoint.
    public func state() -> (m: [Float], v: [Float], steps: Int) {
        (Array(UnsafeBufferPointer(start: m.pointer, count: m.count)),
         Array(UnsafeBufferPointer(start: v.pointer, count: v.count)), steps)
    }

    /// Restores what `state()` returned (from a checkpoint of the same model layout).
    public func restore(m newM: [Float], v newV: [Float], steps newSteps: Int) throws {
        guard newM.count == m.count, newV.count == v.count, newSteps >= 0 else {
            throw TrainError.invalidConfig("optimizer state has \(newM.count)/\(newV.count) moments for \(m.count) parameters (step \(newSteps)); the checkpoint is from another model")
        }
        newM.withUnsafeBufferPointer { m.pointer.update(from: $0.baseAddress!, count: m.count) }
        newV.withUnsafeBufferPointer { v.pointer.update(from: $0.baseAddress!, count: v.count) }
        steps = newSteps
    }

    /// One update with learning rate `lr` from the model's current gradients, then the logit
    /// scale clamped to [0, ln 100] as open_clip does after every step.
    public func step(_ model: CLIPTrainModel, lr: Float) {
        steps += 1
        let n = model.layout.count
        let bc1 = 1 - powf(beta1, Float(steps)), bc2 = 1 - powf(beta2, Float(steps))
        let k = Kernel(p: model.parameters.pointer, g: model.gradients.pointer, m: m.pointer, v: v.pointer,
                       mask: decayMask.pointer, beta1: beta1, beta2: beta2, eps: eps,
                       stepSize: lr / bc1, bc2Sqrt: bc2.squareRoot(), decay: lr * weightDecay)
        // At most `threads` chunks, none below 64 Ki elements (smaller ones cost more to hand out
        // than they save).
        let chunks = max(1, min(threads, n / 65_536))
        if chunks == 1 {
            k.run(0..<n)
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks) { c in k.run((c * n / chunks)..<((c + 1) * n / chunks)) }
        }
        let p = model.parameters.pointer
        let s = p + model.layout.offset(.logitScale)
        s[0] = min(max(s[0], 0), maxLogLogitScale)
    }
}

/// The element-wise AdamW update over a range of the flat buffers.
private struct Kernel: @unchecked Sendable {
    let p, g, m, v, mask: UnsafeMutablePointer<Float>
    let beta1, beta2, eps, stepSize, bc2Sqrt, decay: Float

    // The same order of operations as torch's single-tensor AdamW, so one step matches it to
    // rounding: decay, moments, then p -= stepSize · m / (√v / √bc2 + ε).
    func run(_ range: Range<Int>) {
        for i in range {
            p[i] *= 1 - decay * mask[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + eps)
        }
    }
}

/// open_clip's `cosine_lr`: base·(step+1)/warmup during warm-up, then
/// ½·(1 + cos(π·e/es))·base with e = step − warmup, es = totalSteps − warmup.
public func cosineLearningRate(step: Int, baseLR: Float, warmup: Int, totalSteps: Int) -> Float {
    if step < warmup { return baseLR * Float(step + 1) / Float(warmup) }
    let e = Float(step - warmup), es = Float(max(totalSteps - warmup, 1))
    return 0.5 * (1 + cosf(Float.pi * min(e / es, 1))) * baseLR
}
