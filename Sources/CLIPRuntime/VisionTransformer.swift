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
public struct VisionEncoder: Sendable {
    public let config: CLIPConfig
    public let weights: VisionWeights

    public init(config: CLIPConfig, weights: VisionWeights) throws {
        try config.validate()
        try CLIPWeights(vision: weights, text: nil, logitScale: 0).validate(against: config)
        self.config = config
        self.weights = weights
    }

    /// One image: pixels [3, S, S] (normalized, channel-major) → embedding [embedDim].
    public func encode(pixels: [Float], observer: ActivationObserver? = nil) throws -> [Float] {
        let v = config.vision, d = v.tower.width, s = v.imageSize, p = v.patchSize, g = v.grid
        guard pixels.count == 3 * s * s else {
            throw ModelError.invalidInput("expected 3×\(s)×\(s) = \(3 * s * s) pixel values, got \(pixels.count)")
        }
        let patchLength = 3 * p * p
        // Patchify: shape = [grid², 3·P·P], each row in conv1's (channel, row, column) order.
        var patches = [Float](repeating: 0, count: g * g * patchLength)
        for gy in 0..<g {
            for gx in 0..<g {
                let row = (gy * g + gx) * patchLength
                for c in 0..<3 {
                    for py in 0..<p {
                        let src = c * s * s + (gy * p + py) * s + gx * p
                        let dst = row + (c * p + py) * p
                        for px in 0..<p { patches[dst + px] = pixels[src + px] }
                    }
                }
            }
        }
        // conv1 as a matmul into rows 1... of x; row 0 is the class token. shape = [grid² + 1, D]
        let t = v.tokens
        var x = [Float](repeating: 0, count: t * d)
        patches.withUnsafeBufferPointer { pb in
            weights.patchEmbedding.values.withUnsafeBufferPointer { wb in
                x.withUnsafeMutableBufferPointer { xb in
                    matmulTransposedB(pb.baseAddress!, wb.baseAddress!, bias: nil, xb.baseAddress! + d,
                                      m: g * g, k: patchLength, n: d)
                }
            }
        }
        for i in 0..<d { x[i] = weights.classEmbedding.values[i] }
        for i in 0..<(t * d) { x[i] += weights.positionEmbedding.values[i] }
        var normed = [Float](repeating: 0, count: t * d)
        x.withUnsafeBufferPointer { xb in
            normed.withUnsafeMutableBufferPointer { nb in
                layerNorm(xb.baseAddress!, weights.lnPre, nb.baseAddress!, rows: t, eps: config.layerNormEps)
            }
        }
        runTower(&normed, tokens: t, blocks: weights.blocks, config: v.tower, causal: false,
                 activation: config.activation, eps: config.layerNormEps, prefix: "vision", observer: observer)
        return pool(normed, observer: observer)
    }

    /// ln_post on the class token, then the projection. shape = [D] → [embedDim]
    private func pool(_ x: [Float], observer: ActivationObserver?) -> [Float] {
        let d = config.vision.tower.width
        var pooled = [Float](repeating: 0, count: d)
        var out = [Float](repeating: 0, count: config.embedDim)
        x.withUnsafeBufferPointer { xb in
            pooled.withUnsafeMutableBufferPointer { pb in
                layerNorm(xb.baseAddress!, weights.lnPost, pb.baseAddress!, rows: 1, eps: config.layerNormEps)
                observer?("vision.pooled", [d], UnsafeBufferPointer(pb))
                out.withUnsafeMutableBufferPointer { ob in
                    linear(pb.baseAddress!, LinearWeights(weight: weights.projection, bias: nil), ob.baseAddress!, rows: 1)
                }
            }
        }
        return out
    }
}
