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
/// once: the weights are read-only after init and `encode` allocates its buffers per call.
/// Don't share an `observer` or a `timer` between concurrent calls.
public struct TextEncoder: @unchecked Sendable {
    public let config: CLIPConfig
    let tokenEmbedding: TokenEmbedding
    let positionEmbedding: [Float]
    /// The blocks, causal.
    let tower: Tower
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
        self.tower = Tower(name: .text, config: config.text.tower, blocks: blocks, causal: true,
                           activation: config.activation, eps: config.layerNormEps)
        self.lnFinal = lnFinal
        self.projection = projection
    }

    /// Bytes of weights this encoder holds.
    public var weightBytes: Int {
        tokenEmbedding.bytes + projection.weightBytes + tower.weightBytes
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
        let c = config.text
        guard !tokens.isEmpty, tokens.count <= c.contextLength else {
            throw ModelError.invalidInput(
                "a text needs 1 to \(c.contextLength) tokens, got \(tokens.count); shorten the text or let the tokenizer truncate it")
        }
        for id in tokens where id < 0 || Int(id) >= c.vocabularySize {
            throw ModelError.invalidInput("token id \(id) is outside the vocabulary of \(c.vocabularySize)")
        }
        let poolAt = Self.poolIndex(of: tokens)
        // T: the real tokens up to EOT (exact under the causal mask), unless told to run them all.
        let pass = ForwardPass(tower, sequences: 1, tokens: computeAllTokens ? tokens.count : poolAt + 1,
                               embedDim: config.embedDim, pool: pool, observer: observer, timer: timer)
        return forward(tokens, pooledRow: poolAt, pass)
    }

    /// openai/CLIP `encode_text` on the first T of `tokens` (all of them, or up to the pooling
    /// position) → embedding [embedDim].
    private func forward(_ tokens: [Int32], pooledRow: Int, _ p: ForwardPass) -> [Float] {
        let d = tower.config.width, t = p.tokens
        for i in 0..<t {                                                              // x: [T, D]
            tokenEmbedding.row(Int(tokens[i]), into: p.x + i * d, width: d)
            for j in 0..<d { p.x[i * d + j] += positionEmbedding[i * d + j] }
        }
        p.timer?.lap(ProfileStage(.text, .embed))
        tower.forward(p, pooledRow: pooledRow)                                        // x: [T, D]
        layerNorm(p.x + pooledRow * d, lnFinal, p.pooled, rows: 1, eps: config.layerNormEps)  // ln_final(x[eot]): [D]
        p.observe("text.pooled", p.pooled, shape: [d])
        apply(projection, p.pooled, p.embeddings, rows: 1, quant: p.quant, pool: p.pool)  // @ text_projection: [embedDim]
        let embedding = Array(UnsafeBufferPointer(start: p.embeddings, count: config.embedDim))
        p.timer?.lap(ProfileStage(.text, .head))
        return embedding
    }
}
