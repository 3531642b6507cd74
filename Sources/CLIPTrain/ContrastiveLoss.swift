// CLIP's symmetric contrastive cross-entropy over a batch (open_clip's ClipLoss on one
// process): logits = exp(min(s, ln 100)) · I · Tᵀ for L2-normalized image embeddings I [B, E]
// and text embeddings T [B, E]; the i-th image matches the i-th caption; the loss is the mean of
// the cross-entropy over rows (image → text) and over columns (text → image).
//
// The learnable logit scale s is the log temperature (initialised at ln(1/0.07)). Above ln 100
// it is clamped in the forward pass, so it receives no gradient there (torch.clamp's gradient
// passes at equality and stops beyond it). The trainer also clamps the stored value after each
// step, as open_clip does, so the parameter never drifts past the cap.

import CLIPSupport

/// ln 100: the largest logit scale CLIP allows (a temperature of 1/100).
public let maxLogLogitScale: Float = 4.605170186

/// What the loss saves for its backward pass.
public struct ContrastiveSaved {
    /// Row softmax (image → text) and column softmax (text → image) of the logits, both [B, B]
    /// stored row-major by (image i, caption j).
    public var rowProbs: [Float]
    public var colProbs: [Float]
    public var logits: [Float]
    public var scale: Float
}

/// Returns the loss and what the backward pass needs. img, txt [B, E], normalized.
public func contrastiveLossForward(_ img: UnsafePointer<Float>, _ txt: UnsafePointer<Float>,
                                   logScale: Float, B: Int, E: Int) -> (loss: Float, saved: ContrastiveSaved) {
    let scale = expf(min(logScale, maxLogLogitScale))
    var logits = [Float](repeating: 0, count: B * B)
    for i in 0..<B {
        for j in 0..<B {
            var d: Float = 0
            for e in 0..<E { d += img[i * E + e] * txt[j * E + e] }
            logits[i * B + j] = scale * d
        }
    }
    var rowProbs = [Float](repeating: 0, count: B * B)
    var colProbs = [Float](repeating: 0, count: B * B)
    var loss: Double = 0
    logits.withUnsafeBufferPointer { lg in
        rowProbs.withUnsafeMutableBufferPointer { rp in softmaxForward(rp.baseAddress!, lg.baseAddress!, N: B, C: B) }
    }
    // Column softmax: softmax of the transposed logits, stored back untransposed.
    var transposed = [Float](repeating: 0, count: B * B)
    for i in 0..<B { for j in 0..<B { transposed[j * B + i] = logits[i * B + j] } }
    var colT = [Float](repeating: 0, count: B * B)
    transposed.withUnsafeBufferPointer { tp in
        colT.withUnsafeMutableBufferPointer { cp in softmaxForward(cp.baseAddress!, tp.baseAddress!, N: B, C: B) }
    }
    for i in 0..<B { for j in 0..<B { colProbs[i * B + j] = colT[j * B + i] } }
    // −log p of the matching pair, from log-sum-exp so a confident model does not log(0).
    for i in 0..<B {
        var mr = -Float.infinity, mc = -Float.infinity
        for j in 0..<B { mr = max(mr, logits[i * B + j]); mc = max(mc, logits[j * B + i]) }
        var sr: Double = 0, sc: Double = 0
        for j in 0..<B {
            sr += Double(expf(logits[i * B + j] - mr))
            sc += Double(expf(logits[j * B + i] - mc))
        }
        let diag = Double(logits[i * B + i])
        loss += (Double(mr) + log(sr) - diag) + (Double(mc) + log(sc) - diag)
    }
    let saved = ContrastiveSaved(rowProbs: rowProbs, colProbs: colProbs, logits: logits, scale: scale)
    return (Float(loss / Double(2 * B)), saved)
}

/// Gradients of the loss (times `dloss`), accumulated into dimg, dtxt [B, E] and dLogScale.
public func contrastiveLossBackward(_ dimg: UnsafeMutablePointer<Float>, _ dtxt: UnsafeMutablePointer<Float>,
                                    _ dLogScale: inout Float, _ img: UnsafePointer<Float>,
                                    _ txt: UnsafePointer<Float>, logScale: Float, saved: ContrastiveSaved,
                                    B: Int, E: Int, dloss: Float = 1) {
    // dL/dlogits[i, j] = (rowP − δ + colP − δ) / 2B
    var dlogits = [Float](repeating: 0, count: B * B)
    var ds: Float = 0
    let k = dloss / Float(2 * B)
    for i in 0..<B {
        for j in 0..<B {
            let delta: Float = i == j ? 1 : 0
            let g = k * (saved.rowProbs[i * B + j] - delta + saved.colProbs[i * B + j] - delta)
            dlogits[i * B + j] = g
            ds += g * saved.logits[i * B + j]  // d(scale·cos)/ds = scale·cos when unclamped
        }
    }
    for i in 0..<B {
        for j in 0..<B {
            let g = dlogits[i * B + j] * saved.scale
            for e in 0..<E {
                dimg[i * E + e] += g * txt[j * E + e]
                dtxt[j * E + e] += g * img[i * E + e]
            }
        }
    }
    if logScale <= maxLogLogitScale { dLogScale += ds }
}
