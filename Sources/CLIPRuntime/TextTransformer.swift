// The causal text tower (openai/CLIP `encode_text`, HF `CLIPTextTransformer`):
// token + position embeddings → causal blocks → ln_final at the EOT position → projection.
//
// With a causal mask, no position before EOT can see anything after it, so the EOT output is
// the same whether the sequence is padded to 77 or not. The encoder therefore runs only the
// real tokens [SOT … EOT] — exact, and several times cheaper for short prompts.

import CLIPKernels

/// The token embedding: float rows, or int8 rows widened when gathered.
enum TokenEmbedding: @unchecked Sendable {
    case float(Tensor)
    case q8(Q8Weights)

    var rows: Int {
        switch self {
        case .float(let t): return t.shape[0]
        case .q8(let w): return w.n
        }
    }

    var bytes: Int {
        switch self {
        case .float(let t): return 4 * t.count
        case .q8(let w): return w.data.info.decodedSize
        }
    }

    func row(_ id: Int, into out: UnsafeMutablePointer<Float>, width d: Int) {
        switch self {
        case .float(let t): t.values.withUnsafeBufferPointer { for j in 0..<d { out[j] = $0[id * d + j] } }
        case .q8(let w): w.row(id, into: out)
        }
    }
}

/// Encodes token ids into (unnormalized) text embeddings.
///
/// ```swift
/// let encoder = try TextEncoder(config: config, weights: textWeights)
/// let embedding = try encoder.encode(tokens: tokenizer.tokenize("a photo of a cat", truncate: false))
/// ```
///
/// Thread safety: as for `VisionEncoder`. Share it and call it from several threads at
/// once: the weights are read-only after init and `encode` allocates its scratch per call.
/// Don't share an `observer` or a `timer` between concurrent calls.
public struct TextEncoder: @unchecked Sendable {
    public let config: CLIPConfig
    let tokenEmbedding: TokenEmbedding
    let positionEmbedding: [Float]
    let blocks: [BlockPlan]
    let lnFinal: LayerNormWeights
    let projection: RuntimeLinear

    /// A float encoder from float weights.
    public init(config: CLIPConfig, weights: TextWeights) throws {
        try config.validate()
        try CLIPWeights(vision: nil, text: weights, logitScale: 0).validate(against: config)
        self.init(config: config, tokenEmbedding: .float(weights.tokenEmbedding),
                  positionEmbedding: weights.positionEmbedding.values, blocks: weights.blocks.map(BlockPlan.init(float:)),
                  lnFinal: weights.lnFinal, projection: .float(LinearWeights(weight: weights.projection, bias: nil)))
    }

    init(config: CLIPConfig, tokenEmbedding: TokenEmbedding, positionEmbedding: [Float], blocks: [BlockPlan],
         lnFinal: LayerNormWeights, projection: RuntimeLinear) {
        self.config = config
        self.tokenEmbedding = tokenEmbedding
        self.positionEmbedding = positionEmbedding
        self.blocks = blocks
        self.lnFinal = lnFinal
        self.projection = projection
    }

    /// Bytes of weights this encoder holds.
    public var weightBytes: Int {
        tokenEmbedding.bytes + projection.weightBytes + blocks.reduce(0) { $0 + $1.weightBytes }
            + 4 * (positionEmbedding.count + 2 * lnFinal.gamma.count)
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
    /// - Parameter timer: laps the stages embed, each block's attention and MLP, and head
    ///   (Profiler.swift).
    public func encode(tokens: [Int32], computeAllTokens: Bool = false,
                       observer: ActivationObserver? = nil, pool: WorkerPool = .single,
                       timer: StageTimer? = nil) throws -> [Float] {
        let c = config.text, d = c.tower.width
        guard !tokens.isEmpty, tokens.count <= c.contextLength else {
            throw ModelError.invalidInput(
                "a text needs 1 to \(c.contextLength) tokens, got \(tokens.count); shorten the text or let the tokenizer truncate it")
        }
        for id in tokens where id < 0 || Int(id) >= c.vocabularySize {
            throw ModelError.invalidInput("token id \(id) is outside the vocabulary of \(c.vocabularySize)")
        }
        let poolAt = Self.poolIndex(of: tokens)
        let t = computeAllTokens ? tokens.count : poolAt + 1
        // shape = [T, D]
        var x = [Float](repeating: 0, count: t * d)
        x.withUnsafeMutableBufferPointer { xb in
            for i in 0..<t {
                tokenEmbedding.row(Int(tokens[i]), into: xb.baseAddress! + i * d, width: d)
                for j in 0..<d { xb[i * d + j] += positionEmbedding[i * d + j] }
            }
        }
        timer?.lap(ProfileStage(.text, .embed))
        runTower(&x, sequences: 1, tokens: t, blocks: blocks, config: c.tower, causal: true,
                 activation: config.activation, eps: config.layerNormEps, prefix: "text", observer: observer, pool: pool,
                 pooledRow: poolAt, timer: timer, tower: .text)
        // ln_final at the pooling position, then the projection. shape = [D] → [embedDim]
        var pooled = [Float](repeating: 0, count: d)
        var out = [Float](repeating: 0, count: config.embedDim)
        var quant = QuantScratch(rows: 1, width: d)
        x.withUnsafeBufferPointer { xb in
            pooled.withUnsafeMutableBufferPointer { pb in
                layerNorm(xb.baseAddress! + poolAt * d, lnFinal, pb.baseAddress!, rows: 1, eps: config.layerNormEps)
                observer?("text.pooled", [d], UnsafeBufferPointer(pb))
                out.withUnsafeMutableBufferPointer { ob in
                    apply(projection, pb.baseAddress!, ob.baseAddress!, rows: 1, scratch: &quant, pool: pool)
                }
            }
        }
        timer?.lap(ProfileStage(.text, .head))
        return out
    }
}
