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
/// files), and `encode` allocates its buffers per call (a `ForwardPass`). Don't share an
/// `observer` or a `timer` between concurrent calls: each gets called on the thread that makes
/// the call.
public struct VisionEncoder: @unchecked Sendable {
    public let config: CLIPConfig
    /// conv1 as a linear layer: [D, 3·P·P].
    let patch: RuntimeLinear
    let classEmbedding: [Float]
    let positionEmbedding: [Float]
    let lnPre: LayerNormWeights
    /// The blocks, not causal.
    let tower: Tower
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
        self.tower = Tower(name: .vision, config: config.vision.tower, blocks: blocks, causal: false,
                           activation: config.activation, eps: config.layerNormEps)
        self.lnPost = lnPost
        self.projection = projection
    }

    /// Bytes of weights this encoder holds.
    public var weightBytes: Int {
        patch.weightBytes + projection.weightBytes + tower.weightBytes
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
        let s = config.vision.imageSize
        guard !batch.isEmpty else { return [] }
        for pixels in batch where pixels.count != 3 * s * s {
            throw ModelError.invalidInput("expected 3×\(s)×\(s) = \(3 * s * s) pixel values, got \(pixels.count)")
        }
        let pass = ForwardPass(tower, sequences: batch.count, tokens: config.vision.tokens, embedDim: config.embedDim,
                               pool: pool, observer: observer, timer: timer)
        return forward(batch, pass)
    }

    /// openai/CLIP `VisionTransformer.forward` on N images: pixels [N][3, S, S] → embeddings
    /// [N][embedDim]. T = grid² + 1 tokens per image.
    private func forward(_ images: [[Float]], _ p: ForwardPass) -> [[Float]] {
        let v = config.vision, n = images.count, d = tower.config.width, t = v.tokens, g = v.grid
        let patchLength = 3 * v.patchSize * v.patchSize, eps = config.layerNormEps
        // The buffers only this tower needs, from the pass's arena.
        let patches = p.arena.floats(n * g * g * patchLength)                         // [N·grid², 3·P·P]
        let patchQuant = p.arena.quantScratch(rows: n * g * g, width: patchLength)
        let embedded = p.arena.floats(n * g * g * d)                                  // [N·grid², D]
        let tokens = p.arena.floats(n * t * d)                                        // [N·T, D]

        patchify(images, into: patches)                                               // patches: [N·grid², 3·P·P]
        apply(patch, patches, embedded, rows: n * g * g, quant: patchQuant, pool: p.pool)  // conv1: [N·grid², D]
        prependClassAddPositions(embedded, into: tokens, images: n)                   // tokens: [N·T, D]
        layerNorm(tokens, lnPre, p.x, rows: n * t, eps: eps)                          // x = ln_pre(tokens): [N·T, D]
        p.timer?.lap(ProfileStage(.vision, .embed))
        tower.forward(p, pooledRow: 0)                                                // x: [N·T, D]
        for b in 0..<n {                                                              // pooled = ln_post(x[:, 0, :]): [N, D]
            layerNorm(p.x + b * t * d, lnPost, p.pooled + b * d, rows: 1, eps: eps)
        }
        p.observe("vision.pooled", p.pooled, shape: [n, d])
        apply(projection, p.pooled, p.embeddings, rows: n, quant: p.quant, pool: p.pool)  // pooled @ proj: [N, embedDim]
        let e = config.embedDim
        let embeddings = (0..<n).map { Array(UnsafeBufferPointer(start: p.embeddings + $0 * e, count: e)) }
        p.timer?.lap(ProfileStage(.vision, .head))
        return embeddings
    }

    /// Cuts each image [3, S, S] into grid² patches of P×P pixels per channel: out [N·grid², 3·P·P],
    /// each row in conv1's (channel, row, column) order, so conv1 becomes a matmul.
    private func patchify(_ images: [[Float]], into out: UnsafeMutablePointer<Float>) {
        let s = config.vision.imageSize, p = config.vision.patchSize, g = config.vision.grid
        let patchLength = 3 * p * p
        for (b, pixels) in images.enumerated() {
            for gy in 0..<g {
                for gx in 0..<g {
                    let row = ((b * g + gy) * g + gx) * patchLength
                    for c in 0..<3 {
                        for py in 0..<p {
                            let src = c * s * s + (gy * p + py) * s + gx * p
                            let dst = row + (c * p + py) * p
                            for px in 0..<p { out[dst + px] = pixels[src + px] }
                        }
                    }
                }
            }
        }
    }

    /// Each image's patch rows [grid², D] re-spaced behind its class token, plus the position
    /// embedding: embedded [N·grid², D] → tokens [N·(grid² + 1), D].
    private func prependClassAddPositions(_ embedded: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>,
                                          images n: Int) {
        let d = tower.config.width, t = config.vision.tokens, patches = t - 1
        for b in 0..<n {
            let base = b * t * d
            for i in 0..<d { x[base + i] = classEmbedding[i] }
            for r in 0..<patches {
                for i in 0..<d { x[base + (r + 1) * d + i] = embedded[(b * patches + r) * d + i] }
            }
            for i in 0..<(t * d) { x[base + i] += positionEmbedding[i] }
        }
    }
}
