// CLIP's symmetric contrastive cross-entropy over a batch (open_clip's ClipLoss on one
// process): logits = exp(min(s, ln 100)) · I · Tᵀ for L2-normalized image embeddings I [B, E]
// and text embeddings T [B, E]; the i-th image matches the i-th caption; the loss is the mean of
// the cross-entropy over rows (image → text) and over columns (text → image).
//
// Identical captions (optional, `groups`): CLIP assumes every caption in a batch is unique, so a
// caption written twice is both the positive of its own image and a negative of the other's —
// a contradiction no embedding can satisfy. With `groups` (equal ids = identical captions) the
// target of a row or column is uniform over its group instead of one-hot (a multi-positive
// cross-entropy); with all groups distinct this is exactly CLIP's loss.
//
// The learnable logit scale s is the log temperature (initialised at ln(1/0.07)). Above ln 100
// it is clamped in the forward pass, so it receives no gradient there (torch.clamp's gradient
// passes at equality and stops beyond it). The trainer also clamps the stored value after each
// step, as open_clip does, so the parameter never drifts past the cap.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
    /// [B, B] targets (row i: uniform over the captions identical to caption i), or nil for the
    /// identity (every caption unique).
    public var targets: [Float]?
}

/// The multi-positive targets of `groups` (nil when every group is distinct).
func contrastiveTargets(_ groups: [Int]?, B: Int) -> [Float]? {
    guard let groups, Set(groups).count < B else { return nil }
    var t = [Float](repeating: 0, count: B * B)
    for i in 0..<B {
        let members = (0..<B).filter { groups[$0] == groups[i] }
        for j in members { t[i * B + j] = 1 / Float(members.count) }
    }
    return t
}

/// Returns the loss and what the backward pass needs. img, txt [B, E], normalized.
/// groups: optional caption identities (see above); must have B entries.
public func contrastiveLossForward(_ img: UnsafePointer<Float>, _ txt: UnsafePointer<Float>,
                                   logScale: Float, B: Int, E: Int, groups: [Int]? = nil) -> (loss: Float, saved: ContrastiveSaved) {
    precondition(groups == nil || groups!.count == B, "contrastiveLossForward: \(groups!.count) groups for \(B) pairs")
    let targets = contrastiveTargets(groups, B: B)
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
    // −Σ target·log p, from log-sum-exp so a confident model does not log(0). The targets are
    // symmetric (identity is a symmetric relation), so row i and column i share them.
    for i in 0..<B {
        var mr = -Float.infinity, mc = -Float.infinity
        for j in 0..<B { mr = max(mr, logits[i * B + j]); mc = max(mc, logits[j * B + i]) }
        var sr: Double = 0, sc: Double = 0
        for j in 0..<B {
            sr += Double(expf(logits[i * B + j] - mr))
            sc += Double(expf(logits[j * B + i] - mc))
        }
        var rowTarget = Double(logits[i * B + i]), colTarget = rowTarget
        if let targets {
            rowTarget = 0; colTarget = 0
            for j in 0..<B where targets[i * B + j] > 0 {
                rowTarget += Double(targets[i * B + j]) * Double(logits[i * B + j])
                colTarget += Double(targets[j * B + i]) * Double(logits[j * B + i])
            }
        }
        loss += (Double(mr) + log(sr) - rowTarget) + (Double(mc) + log(sc) - colTarget)
    }
    let saved = ContrastiveSaved(rowProbs: rowProbs, colProbs: colProbs, logits: logits, scale: scale, targets: targets)
    return (Float(loss / Double(2 * B)), saved)
}

/// Gradients of the loss (times `dloss`), accumulated into dimg, dtxt [B, E] and dLogScale.
public func contrastiveLossBackward(_ dimg: UnsafeMutablePointer<Float>, _ dtxt: UnsafeMutablePointer<Float>,
                                    _ dLogScale: inout Float, _ img: UnsafePointer<Float>,
                                    _ txt: UnsafePointer<Float>, logScale: Float, saved: ContrastiveSaved,
                                    B: Int, E: Int, dloss: Float = 1) {
    // dL/dlogits[i, j] = (rowP − t + colP − t) / 2B, t the target (δ without groups)
    var dlogits = [Float](repeating: 0, count: B * B)
    var ds: Float = 0
    let k = dloss / Float(2 * B)
    for i in 0..<B {
        for j in 0..<B {
            let delta: Float = saved.targets?[i * B + j] ?? (i == j ? 1 : 0)
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
