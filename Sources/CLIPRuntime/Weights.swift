// Float weights of a CLIP model in one canonical layout, whatever checkpoint they came from.
//
// Every linear weight is [out, in] (PyTorch `nn.Linear`), so y = x · Wᵀ + b. Loaders transpose
// OpenCLIP's `x @ W` projections into this layout; the mapping of names lives in CLIPConvert.

/// A dense float tensor: row-major values with a shape.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public var count: Int { values.count }

    /// A shape with no values: only for checking names and shapes (`CLIPWeights.skeleton`).
    static func shape(_ shape: [Int]) -> Tensor {
        var t = Tensor(shape: [0], values: [])
        t.shape = shape
        return t
    }
}

/// LayerNorm gain and bias, each [D].
public struct LayerNormWeights: Sendable, Equatable {
    public var gamma: Tensor
    public var beta: Tensor
    public init(gamma: Tensor, beta: Tensor) { self.gamma = gamma; self.beta = beta }
}

/// A linear layer: weight [out, in], bias [out].
public struct LinearWeights: Sendable, Equatable {
    public var weight: Tensor
    public var bias: Tensor?
    public init(weight: Tensor, bias: Tensor?) { self.weight = weight; self.bias = bias }
}

/// One pre-LN residual block: x += attn(ln_1(x)); x += mlp(ln_2(x)).
public struct BlockWeights: Sendable, Equatable {
    public var ln1: LayerNormWeights
    /// q, k and v stacked: weight [3·D, D], bias [3·D] (OpenCLIP's `in_proj_weight` layout).
    public var qkv: LinearWeights
    public var attnOut: LinearWeights
    public var ln2: LayerNormWeights
    /// c_fc / fc1: [mlpWidth, D].
    public var fc: LinearWeights
    /// c_proj / fc2: [D, mlpWidth].
    public var proj: LinearWeights

    public init(ln1: LayerNormWeights, qkv: LinearWeights, attnOut: LinearWeights,
                ln2: LayerNormWeights, fc: LinearWeights, proj: LinearWeights) {
        self.ln1 = ln1; self.qkv = qkv; self.attnOut = attnOut
        self.ln2 = ln2; self.fc = fc; self.proj = proj
    }
}

public struct VisionWeights: Sendable, Equatable {
    /// conv1 flattened to [D, 3·P·P] (channel, row, column order), no bias.
    public var patchEmbedding: Tensor
    /// [D]
    public var classEmbedding: Tensor
    /// [tokens, D]
    public var positionEmbedding: Tensor
    public var lnPre: LayerNormWeights
    public var blocks: [BlockWeights]
    public var lnPost: LayerNormWeights
    /// [embedDim, D]
    public var projection: Tensor

    public init(patchEmbedding: Tensor, classEmbedding: Tensor, positionEmbedding: Tensor,
                lnPre: LayerNormWeights, blocks: [BlockWeights], lnPost: LayerNormWeights, projection: Tensor) {
        self.patchEmbedding = patchEmbedding; self.classEmbedding = classEmbedding
        self.positionEmbedding = positionEmbedding; self.lnPre = lnPre; self.blocks = blocks
        self.lnPost = lnPost; self.projection = projection
    }
}

public struct TextWeights: Sendable, Equatable {
    /// [vocabulary, D]
    public var tokenEmbedding: Tensor
    /// [context, D]
    public var positionEmbedding: Tensor
    public var blocks: [BlockWeights]
    public var lnFinal: LayerNormWeights
    /// [embedDim, D]
    public var projection: Tensor

    public init(tokenEmbedding: Tensor, positionEmbedding: Tensor, blocks: [BlockWeights],
                lnFinal: LayerNormWeights, projection: Tensor) {
        self.tokenEmbedding = tokenEmbedding; self.positionEmbedding = positionEmbedding
        self.blocks = blocks; self.lnFinal = lnFinal; self.projection = projection
    }
}

/// Everything a float CLIP needs. Either tower may be absent when a command needs only one.
public struct CLIPWeights: Sendable, Equatable {
    public var vision: VisionWeights?
    public var text: TextWeights?
    /// The stored log temperature: logits = exp(logitScale) · cos.
    public var logitScale: Float

    public init(vision: VisionWeights?, text: TextWeights?, logitScale: Float) {
        self.vision = vision; self.text = text; self.logitScale = logitScale
    }

    /// Checks every tensor's shape against `config`, naming the first that disagrees.
    public func validate(against config: CLIPConfig) throws {
        func check(_ t: Tensor, _ expected: [Int], _ name: String) throws {
            if t.shape != expected { throw ModelError.shapeMismatch(tensor: name, expected: expected, found: t.shape) }
        }
        func checkBlocks(_ blocks: [BlockWeights], _ tc: TowerConfig, _ prefix: String) throws {
            guard blocks.count == tc.layers else {
                throw ModelError.invalidConfig("\(prefix) has \(blocks.count) blocks, the config says \(tc.layers)")
            }
            let d = tc.width, h = tc.mlpWidth
            for (i, b) in blocks.enumerated() {
                let p = "\(prefix).\(i)"
                try check(b.ln1.gamma, [d], "\(p).ln_1.weight"); try check(b.ln1.beta, [d], "\(p).ln_1.bias")
                try check(b.qkv.weight, [3 * d, d], "\(p).attn.in_proj_weight")
                if let bias = b.qkv.bias { try check(bias, [3 * d], "\(p).attn.in_proj_bias") }
                try check(b.attnOut.weight, [d, d], "\(p).attn.out_proj.weight")
                if let bias = b.attnOut.bias { try check(bias, [d], "\(p).attn.out_proj.bias") }
                try check(b.ln2.gamma, [d], "\(p).ln_2.weight"); try check(b.ln2.beta, [d], "\(p).ln_2.bias")
                try check(b.fc.weight, [h, d], "\(p).mlp.c_fc.weight")
                if let bias = b.fc.bias { try check(bias, [h], "\(p).mlp.c_fc.bias") }
                try check(b.proj.weight, [d, h], "\(p).mlp.c_proj.weight")
                if let bias = b.proj.bias { try check(bias, [d], "\(p).mlp.c_proj.bias") }
            }
        }
        if let v = vision {
            let d = config.vision.tower.width, p = config.vision.patchSize
            try check(v.patchEmbedding, [d, 3 * p * p], "visual.conv1.weight")
            try check(v.classEmbedding, [d], "visual.class_embedding")
            try check(v.positionEmbedding, [config.vision.tokens, d], "visual.positional_embedding")
            try check(v.lnPre.gamma, [d], "visual.ln_pre.weight"); try check(v.lnPre.beta, [d], "visual.ln_pre.bias")
            try checkBlocks(v.blocks, config.vision.tower, "visual.transformer.resblocks")
            try check(v.lnPost.gamma, [d], "visual.ln_post.weight"); try check(v.lnPost.beta, [d], "visual.ln_post.bias")
            try check(v.projection, [config.embedDim, d], "visual.proj")
        }
        if let t = text {
            let d = config.text.tower.width
            try check(t.tokenEmbedding, [config.text.vocabularySize, d], "token_embedding.weight")
            try check(t.positionEmbedding, [config.text.contextLength, d], "positional_embedding")
            try checkBlocks(t.blocks, config.text.tower, "transformer.resblocks")
            try check(t.lnFinal.gamma, [d], "ln_final.weight"); try check(t.lnFinal.beta, [d], "ln_final.bias")
            try check(t.projection, [config.embedDim, d], "text_projection")
        }
    }
}
