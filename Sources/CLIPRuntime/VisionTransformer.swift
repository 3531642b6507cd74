// The ViT image tower (openai/CLIP `VisionTransformer`, HF `CLIPVisionTransformer`):
// patchify → conv1 as a matmul → prepend class token → add positions → ln_pre → blocks →
// ln_post on the class token → projection.

import CLIPKernels

/// Encodes preprocessed images into (unnormalized) image embeddings.
///
/// ```swift
/// let encoder = try VisionEncoder(config: config, weights: visionWeights)
/// let embedding = try encoder.encode(pixels: chw)   // [embedDim]
/// ```
///
/// Thread safety: safe to share and to call from several threads at once. The weights are
/// never written after init (`@unchecked` only because they sit in unsafe buffers and mapped
/// files), and `encode` allocates its scratch per call. Don't share an `observer` or a `timer`
/// between concurrent calls: each gets called on the thread that makes the call.
public struct VisionEncoder: @unchecked Sendable {
    public let config: CLIPConfig
    /// conv1 as a linear layer: [D, 3·P·P].
    let patch: RuntimeLinear
    let classEmbedding: [Float]
    let positionEmbedding: [Float]
    let lnPre: LayerNormWeights
    let blocks: [BlockPlan]
    let lnPost: LayerNormWeights
    /// [embedDim, D]
    let projection: RuntimeLinear

    /// A float encoder from float weights.
    public init(config: CLIPConfig, weights: VisionWeights) throws {
        try config.validate()
        try CLIPWeights(vision: weights, text: nil, logitScale: 0).validate(against: config)
        self.init(config: config, patch: .float(LinearWeights(weight: weights.patchEmbedding, bias: nil)),
                  classEmbedding: weights.classEmbedding.values, positionEmbedding: weights.positionEmbedding.values,
                  lnPre: weights.lnPre, blocks: weights.blocks.map(BlockPlan.init(float:)), lnPost: weights.lnPost,
                  projection: .float(LinearWeights(weight: weights.projection, bias: nil)))
    }

    init(config: CLIPConfig, patch: RuntimeLinear, classEmbedding: [Float], positionEmbedding: [Float],
         lnPre: LayerNormWeights, blocks: [BlockPlan], lnPost: LayerNormWeights, projection: RuntimeLinear) {
        self.config = config
        self.patch = patch
        self.classEmbedding = classEmbedding
        self.positionEmbedding = positionEmbedding
        self.lnPre = lnPre
        self.blocks = blocks
        self.lnPost = lnPost
        self.projection = projection
    }

    /// Bytes of weights this encoder holds.
    public var weightBytes: Int {
        patch.weightBytes + projection.weightBytes + blocks.reduce(0) { $0 + $1.weightBytes }
            + 4 * (classEmbedding.count + positionEmbedding.count + 4 * lnPre.gamma.count)
    }

    /// One image: pixels [3, S, S] (normalized, channel-major) → embedding [embedDim].
    public func encode(pixels: [Float], observer: ActivationObserver? = nil, pool: WorkerPool = .single) throws -> [Float] {
        try encode(batch: [pixels], observer: observer, pool: pool)[0]
    }

    /// A batch of images, run together (all S·T rows through each matmul).
    ///
    /// `timer`: laps the stages embed, each block's attention and MLP, and head (Profiler.swift).
    public func encode(batch: [[Float]], observer: ActivationObserver? = nil, pool: WorkerPool = .single,
                       timer: StageTimer? = nil) throws -> [[Float]] {
        let v = config.vision, d = v.tower.width, s = v.imageSize, p = v.patchSize, g = v.grid
        let n = batch.count, t = v.tokens
        guard n > 0 else { return [] }
        for pixels in batch where pixels.count != 3 * s * s {
            throw ModelError.invalidInput("expected 3×\(s)×\(s) = \(3 * s * s) pixel values, got \(pixels.count)")
        }
        let patchLength = 3 * p * p
        // Patchify: shape = [N·grid², 3·P·P], each row in conv1's (channel, row, column) order.
        var patches = [Float](repeating: 0, count: n * g * g * patchLength)
        for (b, pixels) in batch.enumerated() {
            for gy in 0..<g {
                for gx in 0..<g {
                    let row = ((b * g + gy) * g + gx) * patchLength
                    for c in 0..<3 {
                        for py in 0..<p {
                            let src = c * s * s + (gy * p + py) * s + gx * p
                            let dst = row + (c * p + py) * p
                            for px in 0..<p { patches[dst + px] = pixels[src + px] }
                        }
                    }
                }
            }
        }
        // conv1 as a matmul, then rows re-spaced so each image gets its class token in row 0.
        // shape = [N·grid², D] → [N·(grid² + 1), D]
        var embedded = [Float](repeating: 0, count: n * g * g * d)
        var quant = QuantScratch(rows: n * g * g, width: patchLength)
        patches.withUnsafeBufferPointer { pb in
            embedded.withUnsafeMutableBufferPointer { eb in
                apply(patch, pb.baseAddress!, eb.baseAddress!, rows: n * g * g, scratch: &quant, pool: pool)
            }
        }
        var x = [Float](repeating: 0, count: n * t * d)
        for b in 0..<n {
            let base = b * t * d
            for i in 0..<d { x[base + i] = classEmbedding[i] }
            for r in 0..<(g * g) {
                for i in 0..<d { x[base + (r + 1) * d + i] = embedded[(b * g * g + r) * d + i] }
            }
            for i in 0..<(t * d) { x[base + i] += positionEmbedding[i] }
        }
        var normed = [Float](repeating: 0, count: n * t * d)
        x.withUnsafeBufferPointer { xb in
            normed.withUnsafeMutableBufferPointer { nb in
                layerNorm(xb.baseAddress!, lnPre, nb.baseAddress!, rows: n * t, eps: config.layerNormEps)
            }
        }
        timer?.lap(ProfileStage(.vision, .embed))
        runTower(&normed, sequences: n, tokens: t, blocks: blocks, config: v.tower, causal: false,
                 activation: config.activation, eps: config.layerNormEps, prefix: "vision", observer: observer, pool: pool,
                 pooledRow: 0, timer: timer, tower: .vision)
        // ln_post on each class token, then the projection. shape = [N, D] → [N, embedDim]
        var pooled = [Float](repeating: 0, count: n * d)
        for b in 0..<n {
            normed.withUnsafeBufferPointer { xb in
                pooled.withUnsafeMutableBufferPointer { pb in
                    layerNorm(xb.baseAddress! + b * t * d, lnPost, pb.baseAddress! + b * d, rows: 1, eps: config.layerNormEps)
                }
            }
        }
        pooled.withUnsafeBufferPointer { observer?("vision.pooled", [n, d], $0) }
        var out = [Float](repeating: 0, count: n * config.embedDim)
        var projQuant = QuantScratch(rows: n, width: d)
        pooled.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { ob in
                apply(projection, pb.baseAddress!, ob.baseAddress!, rows: n, scratch: &projQuant, pool: pool)
            }
        }
        let e = config.embedDim
        let embeddings = (0..<n).map { Array(out[($0 * e)..<(($0 + 1) * e)]) }
        timer?.lap(ProfileStage(.vision, .head))
        return embeddings
    }
}
