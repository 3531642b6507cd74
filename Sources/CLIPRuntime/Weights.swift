// Float weights of a CLIP model in one canonical layout, whatever checkpoint they came from.
//
// Every linear weight is [out, in] (PyTorch `nn.Linear`), so y = x · Wᵀ + b. Loaders transpose
// OpenCLIP's `x @ W` projections into this layout. Names and shapes come from the schema
// (CLIPSchema/TensorNames.swift): `visitTensors` pairs each stored property with its row there,
// the one place this module says which tensor a property holds.

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
    /// q, k and v stacked: weight [3·D, D], bias [3·D] (OpenCLIP's in-projection layout).
    public var qkv: LinearWeights
    public var attnOut: LinearWeights
    public var ln2: LayerNormWeights
    /// The MLP's first matrix: [mlpWidth, D].
    public var fc: LinearWeights
    /// The MLP's second matrix: [D, mlpWidth].
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

    /// Weights with the structure `config` gives `towers` — every block, every bias — and empty
    /// tensors, for a reader to fill through `visitTensors`.
    public init(config: CLIPConfig, towers: Towers) {
        let empty = Tensor(shape: [0], values: [])
        let norm = LayerNormWeights(gamma: empty, beta: empty), linear = LinearWeights(weight: empty, bias: empty)
        let block = BlockWeights(ln1: norm, qkv: linear, attnOut: linear, ln2: norm, fc: linear, proj: linear)
        self.init(
            vision: towers.vision ? VisionWeights(
                patchEmbedding: empty, classEmbedding: empty, positionEmbedding: empty, lnPre: norm,
                blocks: Array(repeating: block, count: config.vision.tower.layers), lnPost: norm, projection: empty) : nil,
            text: towers.text ? TextWeights(
                tokenEmbedding: empty, positionEmbedding: empty,
                blocks: Array(repeating: block, count: config.text.tower.layers), lnFinal: norm, projection: empty) : nil,
            logitScale: 0)
    }

    /// Checks every tensor's shape against `config`, naming the first that disagrees (by its
    /// OpenCLIP name), in file order; a tower's block count is checked where its blocks begin.
    public func validate(against config: CLIPConfig) throws {
        var copy = self
        try copy.visitTensors { t, tensor in
            // The block count where the tower's blocks begin: at its first block, or where that
            // would be when it has none.
            if let tower = t.tower, t.part == .ln1Weight && t.block == 0 || t.part == TensorPart.stem(tower).afterBlocks[0] {
                let blocks = (tower == .vision ? vision?.blocks.count : text?.blocks.count) ?? 0
                let layers = tower == .vision ? config.vision.tower.layers : config.text.tower.layers
                guard blocks == layers else {
                    throw ModelError.invalidConfig("\(tower.blockRoot(.openCLIP)) has \(blocks) blocks, the config says \(layers)")
                }
            }
            let expected = t.shape(config)
            if tensor.shape != expected { throw ModelError.shapeMismatch(tensor: t.name, expected: expected, found: tensor.shape) }
        }
    }
}

extension CLIPWeights {
    /// Calls `body` with each tensor's row of the schema and the tensor (which it may replace), in
    /// file order: the one place that says which property holds which tensor of the table.
    public mutating func visitTensors(_ body: (ModelTensor, inout Tensor) throws -> Void) rethrows {
        func visit(_ part: TensorPart, _ t: inout Tensor) throws { try body(ModelTensor(part), &t) }
        func blocks(_ tower: ModelTensor.Tower, _ blocks: inout [BlockWeights]) throws {
            for i in blocks.indices {
                func visit(_ part: TensorPart, _ t: inout Tensor) throws { try body(ModelTensor(part, tower, block: i), &t) }
                func linear(_ weight: TensorPart, _ bias: TensorPart, _ l: inout LinearWeights) throws {
                    try visit(weight, &l.weight)
                    if l.bias != nil { try visit(bias, &l.bias!) }
                }
                try visit(.ln1Weight, &blocks[i].ln1.gamma)
                try visit(.ln1Bias, &blocks[i].ln1.beta)
                try linear(.qkvWeight, .qkvBias, &blocks[i].qkv)
                try linear(.outWeight, .outBias, &blocks[i].attnOut)
                try visit(.ln2Weight, &blocks[i].ln2.gamma)
                try visit(.ln2Bias, &blocks[i].ln2.beta)
                try linear(.fcWeight, .fcBias, &blocks[i].fc)
                try linear(.projWeight, .projBias, &blocks[i].proj)
            }
        }
        if vision != nil {
            try visit(.patchEmbedding, &vision!.patchEmbedding)
            try visit(.classEmbedding, &vision!.classEmbedding)
            try visit(.visionPositions, &vision!.positionEmbedding)
            try visit(.lnPreWeight, &vision!.lnPre.gamma)
            try visit(.lnPreBias, &vision!.lnPre.beta)
            try blocks(.vision, &vision!.blocks)
            try visit(.lnPostWeight, &vision!.lnPost.gamma)
            try visit(.lnPostBias, &vision!.lnPost.beta)
            try visit(.visionProjection, &vision!.projection)
        }
        if text != nil {
            try visit(.tokenEmbedding, &text!.tokenEmbedding)
            try visit(.textPositions, &text!.positionEmbedding)
            try blocks(.text, &text!.blocks)
            try visit(.lnFinalWeight, &text!.lnFinal.gamma)
            try visit(.lnFinalBias, &text!.lnFinal.beta)
            try visit(.textProjection, &text!.projection)
        }
    }
}
