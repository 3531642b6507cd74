// The causal text tower (openai/CLIP `encode_text`, HF `CLIPTextTransformer`):
// token + position embeddings → causal blocks → ln_final at the EOT position → projection.
//
// With a causal mask, no position before EOT can see anything after it, so the EOT output is
// the same whether the sequence is padded to 77 or not. The encoder therefore runs only the
// real tokens [SOT … EOT] — exact, and several times cheaper for short prompts.

import CLIPKernels

/// Encodes token ids into (unnormalized) text embeddings.
///
/// ```swift
/// let encoder = try TextEncoder(config: config, weights: textWeights)
/// let embedding = try encoder.encode(tokens: tokenizer.tokenize("a photo of a cat", truncate: false))
/// ```
public struct TextEncoder: Sendable {
    public let config: CLIPConfig
    public let weights: TextWeights

    public init(config: CLIPConfig, weights: TextWeights) throws {
        try config.validate()
        try CLIPWeights(vision: nil, text: weights, logitScale: 0).validate(against: config)
        self.config = config
        self.weights = weights
    }

    /// The pooling position: the first occurrence of the largest id, which is the EOT token in
    /// the CLIP vocabulary (OpenAI's `argmax`; HF's first-EOT rule agrees for that vocabulary).
    public static func poolIndex(of tokens: [Int32]) -> Int {
        var best = 0
        for i in tokens.indices where tokens[i] > tokens[best] { best = i }
        return best
    }

    /// tokens (with SOT and EOT, padded or not, at most the context length) → embedding [embedDim].
    ///
    /// - Parameter computeAllTokens: run every given token instead of stopping at the pooling
    ///   position; only useful to show that both give the same result.
    public func encode(tokens: [Int32], computeAllTokens: Bool = false,
                       observer: ActivationObserver? = nil) throws -> [Float] {
        let c = config.text, d = c.tower.width
        guard !tokens.isEmpty, tokens.count <= c.contextLength else {
            throw ModelError.invalidInput(
                "a text needs 1 to \(c.contextLength) tokens, got \(tokens.count); shorten the text or let the tokenizer truncate it")
        }
        for id in tokens where id < 0 || Int(id) >= c.vocabularySize {
            throw ModelError.invalidInput("token id \(id) is outside the vocabulary of \(c.vocabularySize)")
        }
        let pool = Self.poolIndex(of: tokens)
        let t = computeAllTokens ? tokens.count : pool + 1
        // shape = [T, D]
        var x = [Float](repeating: 0, count: t * d)
        for i in 0..<t {
            let row = Int(tokens[i]) * d, pos = i * d
            for j in 0..<d {
                x[i * d + j] = weights.tokenEmbedding.values[row + j] + weights.positionEmbedding.values[pos + j]
            }
        }
        runTower(&x, tokens: t, blocks: weights.blocks, config: c.tower, causal: true,
                 activation: config.activation, eps: config.layerNormEps, prefix: "text", observer: observer)
        // ln_final at the pooling position, then the projection. shape = [D] → [embedDim]
        var pooled = [Float](repeating: 0, count: d)
        var out = [Float](repeating: 0, count: config.embedDim)
        x.withUnsafeBufferPointer { xb in
            pooled.withUnsafeMutableBufferPointer { pb in
                layerNorm(xb.baseAddress! + pool * d, weights.lnFinal, pb.baseAddress!, rows: 1, eps: config.layerNormEps)
                observer?("text.pooled", [d], UnsafeBufferPointer(pb))
                out.withUnsafeMutableBufferPointer { ob in
                    linear(pb.baseAddress!, LinearWeights(weight: weights.projection, bias: nil), ob.baseAddress!, rows: 1)
                }
            }
        }
        return out
    }
}
