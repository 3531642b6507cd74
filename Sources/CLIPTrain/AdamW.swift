// AdamW as torch.optim.AdamW (decoupled weight decay, bias-corrected moments), with CLIP's
// exclusions: only matmul weights decay; LayerNorm gains, biases, embeddings and the logit
// scale do not. And the learning-rate schedule of open_clip: linear warm-up, then cosine to 0.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// AdamW over a model's flat parameter buffer.
///
///     let opt = AdamW(model: model)      // CLIP's β = (0.9, 0.98), ε = 1e-6, decay 0.2
///     opt.step(model, lr: cosineLearningRate(step: s, baseLR: 5e-4, warmup: 100, totalSteps: 2000))
public final class AdamW {
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
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

    /// One update with learning rate `lr` from the model's current gradients, then the logit
    /// scale clamped to [0, ln 100] as open_clip does after every step.
    public func step(_ model: CLIPTrainModel, lr: Float) {
        steps += 1
        let p = model.parameters.pointer, g = model.gradients.pointer
        let mm = m.pointer, vv = v.pointer, mask = decayMask.pointer
        let bc1 = 1 - powf(beta1, Float(steps)), bc2 = 1 - powf(beta2, Float(steps))
        let stepSize = lr / bc1, bc2Sqrt = bc2.squareRoot()
        let decay = lr * weightDecay
        // The same order of operations as torch's single-tensor AdamW, so one step matches it
        // to rounding: decay, moments, then p -= stepSize · m / (√v / √bc2 + ε).
        for i in 0..<model.layout.count {
            p[i] *= 1 - decay * mask[i]
            mm[i] = beta1 * mm[i] + (1 - beta1) * g[i]
            vv[i] = beta2 * vv[i] + (1 - beta2) * g[i] * g[i]
            p[i] -= stepSize * mm[i] / (vv[i].squareRoot() / bc2Sqrt + eps)
        }
        let s = p + model.layout.offset("logit_scale")
        s[0] = min(max(s[0], 0), maxLogLogitScale)
    }
}

/// open_clip's `cosine_lr`: base·(step+1)/warmup during warm-up, then
/// ½·(1 + cos(π·e/es))·base with e = step − warmup, es = totalSteps − warmup.
public func cosineLearningRate(step: Int, baseLR: Float, warmup: Int, totalSteps: Int) -> Float {
    if step < warmup { return baseLR * Float(step + 1) / Float(warmup) }
    let e = Float(step - warmup), es = Float(max(totalSteps - warmup, 1))
    return 0.5 * (1 + cosf(Float.pi * min(e / es, 1))) * baseLR
}
