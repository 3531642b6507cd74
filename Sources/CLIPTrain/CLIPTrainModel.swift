// A small CLIP, forward and backward, composed from the layers of this module. It reads like
// openai/CLIP's model.py:
//   image  → patches → conv1 (a matmul) → [class; patches] + pos → ln_pre → blocks
//          → class token → ln_post → proj → L2 normalize
//   tokens → token embedding + pos → causal blocks → EOT token (the largest id, as CLIP's
//          argmax) → ln_final → text_projection → L2 normalize
//   loss   = symmetric contrastive cross-entropy with logit scale exp(min(s, ln 100)).
// ln_post / ln_final are applied to the pooled row only: LayerNorm is per row, so this equals
// applying it to the whole sequence and pooling after, at a fraction of the work.

/// A trainable CLIP: parameters and gradients in two flat buffers laid out by `layout`.
///
///     let model = try CLIPTrainModel(config: tiny, seed: 42)
///     let loss = try model.lossAndGradients(images: pixels, tokens: ids, batchSize: 4)
///     optimizer.step(model, lr: 5e-4)
public final class CLIPTrainModel {
    public let config: TrainConfig
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    public let gradients: FloatBuffer
    private var state: BatchState?

    public init(config: TrainConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        parameters = FloatBuffer(layout.count)
        gradients = FloatBuffer(layout.count)
        layout.initialize(parameters.pointer, seed: seed)
    }

    /// A copy of the tensor called `name` (an open_clip key, canonical layout).
    public func tensor(_ name: String) throws -> [Float] {
        let v = try layout.view(name)
        return Array(UnsafeBufferPointer(start: parameters.pointer + v.offset, count: v.count))
    }

    /// Overwrites the tensor called `name`; `values` must have its element count.
    public func setTensor(_ name: String, _ values: [Float]) throws {
        let v = try layout.view(name)
        guard values.count == v.count else {
            throw TrainError.invalidBatch("tensor '\(name)' has \(v.count) elements \(v.shape), \(values.count) were given")
        }
        values.withUnsafeBufferPointer { (parameters.pointer + v.offset).update(from: $0.baseAddress!, count: v.count) }
    }

    /// The gradient of the tensor called `name` after `lossAndGradients`.
    public func gradient(_ name: String) throws -> [Float] {
        let v = try layout.view(name)
        return Array(UnsafeBufferPointer(start: gradients.pointer + v.offset, count: v.count))
    }

    /// Runs forward and backward on one batch and returns the loss; the gradients replace the
    /// previous ones. images [B, 3, S, S] normalized pixels; tokens [B, L] ids with L ≤
    /// contextLength, each row's EOT being its largest id (CLIP's convention; pad with 0).
    public func lossAndGradients(images: [Float], tokens: [Int32], batchSize B: Int) throws -> Float {
        let c = config, S = c.imageSize
        guard B > 0, images.count == B * 3 * S * S else {
            throw TrainError.invalidBatch("expected \(B) images of 3×\(S)×\(S) = \(B * 3 * S * S) floats, found \(images.count); resize or crop to \(S)×\(S) first")
        }
        guard tokens.count % B == 0, tokens.count / B >= 1, tokens.count / B <= c.contextLength else {
            throw TrainError.invalidBatch("expected \(B) token rows of at most \(c.contextLength) ids, found \(tokens.count) ids")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            throw TrainError.invalidBatch("token id \(bad) is outside the vocabulary 0..<\(c.vocabularySize)")
        }
        let L = tokens.count / B
        if state?.B != B || state?.L != L { state = BatchState(config: c, layout: layout, B: B, L: L) }
        let eot = eotIndices(tokens, rows: B, length: L)
        gradients.zero()
        return images.withUnsafeBufferPointer { img in
            tokens.withUnsafeBufferPointer { ids in
                state!.run(images: img.baseAddress!, ids: ids.baseAddress!, eot: eot,
                           params: parameters.pointer, grads: gradients.pointer)
            }
        }
    }
}

extension CLIPTrainModel {
    /// L2-normalized image embeddings [n, embedDim] of `n` normalized images [n, 3, S, S],
    /// forward only, `chunk` images at a time (evaluation during and after training).
    public func imageEmbeddings(images: [Float], count n: Int, chunk: Int = 250) throws -> [Float] {
        let c = config, per = 3 * c.imageSize * c.imageSize
        guard n >= 0, images.count == n * per else {
            throw TrainError.invalidBatch("expected \(n) images of 3×\(c.imageSize)×\(c.imageSize), found \(images.count) floats")
        }
        var out = [Float](repeating: 0, count: n * c.embedDim)
        var start = 0
        while start < n {
            let b = min(chunk, n - start)
            let st = BatchState(config: c, layout: layout, B: b, L: 1)
            images.withUnsafeBufferPointer { st.forwardVision(images: $0.baseAddress! + start * per, params: parameters.pointer) }
            for i in 0..<(b * c.embedDim) { out[start * c.embedDim + i] = st.vNorm.pointer[i] }
            start += b
        }
        return out
    }

    /// L2-normalized text embeddings [n, embedDim] of `n` token rows [n, L] (L ≤ contextLength,
    /// each row's EOT its largest id, pad 0), forward only.
    public func textEmbeddings(tokens: [Int32], count n: Int) throws -> [Float] {
        let c = config
        guard n > 0, tokens.count % n == 0, tokens.count / n >= 1, tokens.count / n <= c.contextLength else {
            throw TrainError.invalidBatch("expected \(n) token rows of at most \(c.contextLength) ids, found \(tokens.count) ids")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            throw TrainError.invalidBatch("token id \(bad) is outside the vocabulary 0..<\(c.vocabularySize)")
        }
        let L = tokens.count / n
        let eot = eotIndices(tokens, rows: n, length: L)
        let st = BatchState(config: c, layout: layout, B: n, L: L)
        tokens.withUnsafeBufferPointer { st.forwardText(ids: $0.baseAddress!, eot: eot, params: parameters.pointer) }
        return Array(UnsafeBufferPointer(start: st.tNorm.pointer, count: n * c.embedDim))
    }
}

/// Each row's pooled position: its first largest id (CLIP's argmax: the EOT has the largest id).
func eotIndices(_ tokens: [Int32], rows: Int, length L: Int) -> [Int] {
    (0..<rows).map { b in
        var best = 0
        for t in 0..<L where tokens[b * L + t] > tokens[b * L + best] { best = t }
        return best
    }
}

/// Every activation of one batch shape, and the forward/backward that fills them.
final class BatchState {
    let c: TrainConfig
    let B: Int, L: Int
    let vision: Tower, text: Tower
    let o: [TensorPart: Int]  // offsets of the tensors outside the blocks
    // Vision: patches [B·G², 3P²], x0 [B, Tv, D], ln_pre out + stats, pooled/ln_post [B, D], features.
    let patches, patchEmb, vx0, vlnPre, vlnPreMean, vlnPreRstd, vPooled, vlnPost, vlnPostMean, vlnPostRstd,
        vFeat, vNorm, vNorms: FloatBuffer
    // Text: x0 [B, L, D], pooled/ln_final [B, D], features.
    let tx0, tPooled, tlnF, tlnFMean, tlnFRstd, tFeat, tNorm, tNorms: FloatBuffer
    // Backward scratch.
    let dvSeq, dvx0, dtSeq, dPatchEmb, dvPooled, dtPooled, dvLn, dtLn, dvFeat, dtFeat, dvNorm, dtNorm: FloatBuffer

    init(config c: TrainConfig, layout: ParameterLayout, B: Int, L: Int) {
        self.c = c; self.B = B; self.L = L
        let dv = c.vision.width, dt = c.text.width, Tv = c.visionTokens, G2 = c.grid * c.grid
        let K = 3 * c.patchSize * c.patchSize, E = c.embedDim
        vision = Tower(.vision, config: c.vision, layout: layout, B: B, T: Tv, causal: false, activation: c.activation)
        text = Tower(.text, config: c.text, layout: layout, B: B, T: L, causal: true, activation: c.activation)
        var o: [TensorPart: Int] = [:]
        for v in layout.views where v.id.block == nil { o[v.id.part] = v.offset }
        self.o = o
        patches = FloatBuffer(B * G2 * K); patchEmb = FloatBuffer(B * G2 * dv); vx0 = FloatBuffer(B * Tv * dv)
        vlnPre = FloatBuffer(B * Tv * dv); vlnPreMean = FloatBuffer(B * Tv); vlnPreRstd = FloatBuffer(B * Tv)
        vPooled = FloatBuffer(B * dv); vlnPost = FloatBuffer(B * dv); vlnPostMean = FloatBuffer(B); vlnPostRstd = FloatBuffer(B)
        vFeat = FloatBuffer(B * E); vNorm = FloatBuffer(B * E); vNorms = FloatBuffer(B)
        tx0 = FloatBuffer(B * L * dt); tPooled = FloatBuffer(B * dt); tlnF = FloatBuffer(B * dt)
        tlnFMean = FloatBuffer(B); tlnFRstd = FloatBuffer(B)
        tFeat = FloatBuffer(B * E); tNorm = FloatBuffer(B * E); tNorms = FloatBuffer(B)
        dvSeq = FloatBuffer(B * Tv * dv); dvx0 = FloatBuffer(B * Tv * dv); dtSeq = FloatBuffer(B * L * dt); dPatchEmb = FloatBuffer(B * G2 * dv)
        dvPooled = FloatBuffer(B * dv); dtPooled = FloatBuffer(B * dt); dvLn = FloatBuffer(B * dv); dtLn = FloatBuffer(B * dt)
        dvFeat = FloatBuffer(B * E); dtFeat = FloatBuffer(B * E); dvNorm = FloatBuffer(B * E); dtNorm = FloatBuffer(B * E)
    }

    /// The vision tower forward: fills everything up to `vNorm` (the L2-normalized embeddings).
    func forwardVision(images: UnsafePointer<Float>, params P: UnsafeMutablePointer<Float>) {
        let dv = c.vision.width, Tv = c.visionTokens, G2 = c.grid * c.grid
        let K = 3 * c.patchSize * c.patchSize, E = c.embedDim, S = c.imageSize
        let clsIndex = [Int](repeating: 0, count: B)
        func p(_ n: TensorPart) -> UnsafeMutablePointer<Float> { P + o[n]! }
        patchifyForward(patches.pointer, images, B: B, imageSize: S, patch: c.patchSize)  // [B·G², 3P²]
        matmulForward(patchEmb.pointer, patches.pointer, p(.patchEmbedding), nil, N: B * G2, IC: K, OC: dv)
        prependClassForward(vx0.pointer, patchEmb.pointer, p(.classEmbedding), B: B, T: G2, C: dv)  // [B, Tv, D]
        positionAddForward(vx0.pointer, p(.visionPositions), B: B, T: Tv, C: dv)
        layerNormForward(vlnPre.pointer, vlnPreMean.pointer, vlnPreRstd.pointer, vx0.pointer,
                         p(.lnPreWeight), p(.lnPreBias), N: B * Tv, C: dv)
        vision.forward(vlnPre.pointer, P)
        let vOut = vision.output(input: vlnPre.pointer)
        gatherRowsForward(vPooled.pointer, vOut, clsIndex, B: B, T: Tv, C: dv)  // [B, D]
        layerNormForward(vlnPost.pointer, vlnPostMean.pointer, vlnPostRstd.pointer, vPooled.pointer,
                         p(.lnPostWeight), p(.lnPostBias), N: B, C: dv)
        matmulForward(vFeat.pointer, vlnPost.pointer, p(.visionProjection), nil, N: B, IC: dv, OC: E)  // [B, E]
        l2NormalizeForward(vNorm.pointer, vNorms.pointer, vFeat.pointer, N: B, C: E)
    }

    /// The text tower forward: fills everything up to `tNorm`.
    func forwardText(ids: UnsafePointer<Int32>, eot: [Int], params P: UnsafeMutablePointer<Float>) {
        let dt = c.text.width, E = c.embedDim
        func p(_ n: TensorPart) -> UnsafeMutablePointer<Float> { P + o[n]! }
        embeddingForward(tx0.pointer, ids, p(.tokenEmbedding), N: B * L, C: dt)  // [B, L, D]
        positionAddForward(tx0.pointer, p(.textPositions), B: B, T: L, C: dt)
        text.forward(tx0.pointer, P)
        let tOut = text.output(input: tx0.pointer)
        gatherRowsForward(tPooled.pointer, tOut, eot, B: B, T: L, C: dt)  // [B, D]
        layerNormForward(tlnF.pointer, tlnFMean.pointer, tlnFRstd.pointer, tPooled.pointer,
                         p(.lnFinalWeight), p(.lnFinalBias), N: B, C: dt)
        matmulForward(tFeat.pointer, tlnF.pointer, p(.textProjection), nil, N: B, IC: dt, OC: E)
        l2NormalizeForward(tNorm.pointer, tNorms.pointer, tFeat.pointer, N: B, C: E)
    }

    func run(images: UnsafePointer<Float>, ids: UnsafePointer<Int32>, eot: [Int],
             params P: UnsafeMutablePointer<Float>, grads G: UnsafeMutablePointer<Float>) -> Float {
        let dv = c.vision.width, dt = c.text.width, Tv = c.visionTokens, G2 = c.grid * c.grid
        let K = 3 * c.patchSize * c.patchSize, E = c.embedDim
        let clsIndex = [Int](repeating: 0, count: B)
        func p(_ n: TensorPart) -> UnsafeMutablePointer<Float> { P + o[n]! }
        func g(_ n: TensorPart) -> UnsafeMutablePointer<Float> { G + o[n]! }

        forwardVision(images: images, params: P)
        forwardText(ids: ids, eot: eot, params: P)

        // ---- loss
        let s = p(.logitScale)[0]
        let (loss, saved) = contrastiveLossForward(vNorm.pointer, tNorm.pointer, logScale: s, B: B, E: E)

        // ---- backward
        for buf in [dvNorm, dtNorm, dvFeat, dtFeat, dvLn, dtLn, dvPooled, dtPooled, dvSeq, dvx0, dtSeq, dPatchEmb] { buf.zero() }
        contrastiveLossBackward(dvNorm.pointer, dtNorm.pointer, &g(.logitScale)[0], vNorm.pointer, tNorm.pointer,
                                logScale: s, saved: saved, B: B, E: E)
        // text
        l2NormalizeBackward(dtFeat.pointer, dtNorm.pointer, tNorm.pointer, tNorms.pointer, N: B, C: E)
        matmulBackward(dtLn.pointer, g(.textProjection), nil, dtFeat.pointer, tlnF.pointer, p(.textProjection),
                       N: B, IC: dt, OC: E)
        layerNormBackward(dtPooled.pointer, g(.lnFinalWeight), g(.lnFinalBias), dtLn.pointer, tPooled.pointer,
                          p(.lnFinalWeight), tlnFMean.pointer, tlnFRstd.pointer, N: B, C: dt)
        gatherRowsBackward(dtSeq.pointer, dtPooled.pointer, eot, B: B, T: L, C: dt)
        text.backward(dtSeq.pointer, input: tx0.pointer, P, G)
        positionAddBackward(g(.textPositions), dtSeq.pointer, B: B, T: L, C: dt)
        embeddingBackward(g(.tokenEmbedding), dtSeq.pointer, ids, N: B * L, C: dt)
        // vision
        l2NormalizeBackward(dvFeat.pointer, dvNorm.pointer, vNorm.pointer, vNorms.pointer, N: B, C: E)
        matmulBackward(dvLn.pointer, g(.visionProjection), nil, dvFeat.pointer, vlnPost.pointer, p(.visionProjection),
                       N: B, IC: dv, OC: E)
        layerNormBackward(dvPooled.pointer, g(.lnPostWeight), g(.lnPostBias), dvLn.pointer,
                          vPooled.pointer, p(.lnPostWeight), vlnPostMean.pointer, vlnPostRstd.pointer, N: B, C: dv)
        gatherRowsBackward(dvSeq.pointer, dvPooled.pointer, clsIndex, B: B, T: Tv, C: dv)
        vision.backward(dvSeq.pointer, input: vlnPre.pointer, P, G)
        // dvSeq is now the gradient of ln_pre's output; ln_pre's backward fills dvx0.
        layerNormBackward(dvx0.pointer, g(.lnPreWeight), g(.lnPreBias), dvSeq.pointer, vx0.pointer,
                          p(.lnPreWeight), vlnPreMean.pointer, vlnPreRstd.pointer, N: B * Tv, C: dv)
        positionAddBackward(g(.visionPositions), dvx0.pointer, B: B, T: Tv, C: dv)
        prependClassBackward(dPatchEmb.pointer, g(.classEmbedding), dvx0.pointer, B: B, T: G2, C: dv)
        matmulBackward(nil, g(.patchEmbedding), nil, dPatchEmb.pointer, patches.pointer, p(.patchEmbedding),
                       N: B * G2, IC: K, OC: dv)
        return loss
    }
}
