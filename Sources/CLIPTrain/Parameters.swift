// The trainable parameters of a small CLIP: its shapes (`TrainConfig`), one flat Float buffer
// with a named view per tensor (`ParameterLayout`), and CLIP's seeded initialization.
//
// The tensors, their names and shapes are the model schema's (CLIPSchema/TensorNames.swift), in
// its file order: names are the canonical (open_clip's) ones, layouts the canonical ones shared
// with CLIPRuntime's weights, which this module does not import — every linear weight [out, in],
// the attention in-projection the stacked q/k/v [3D, D], conv1 flattened to [D, 3·P·P] in
// (channel, row, column) order, both projections [embedDim, D]. The exporters write HF and
// open_clip safetensors from this through the schema's transforms.

import CLIPSupport
@_exported import CLIPSchema

extension TowerConfig {
    /// A tower whose MLP is `mlpRatio` times its width (open_clip's `mlp_ratio`; 4 in CLIP).
    public init(width: Int, layers: Int, heads: Int, mlpRatio: Int = 4) {
        self.init(width: width, layers: layers, heads: heads, mlpWidth: mlpRatio * width)
    }
}

/// The architecture of a CLIP to train.
///
///     let tiny = TrainConfig(imageSize: 16, patchSize: 4, vision: .init(width: 16, layers: 2, heads: 2),
///                            vocabularySize: 64, contextLength: 8, text: .init(width: 16, layers: 2, heads: 2),
///                            embedDim: 8)
public struct TrainConfig: Sendable, Equatable, Codable {
    public var imageSize: Int
    public var patchSize: Int
    public var vision: TowerConfig
    public var vocabularySize: Int
    public var contextLength: Int
    public var text: TowerConfig
    public var embedDim: Int
    public var activation: Activation

    public init(imageSize: Int, patchSize: Int, vision: TowerConfig, vocabularySize: Int,
                contextLength: Int, text: TowerConfig, embedDim: Int, activation: Activation = .quickGELU) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.vision = vision
        self.vocabularySize = vocabularySize; self.contextLength = contextLength; self.text = text
        self.embedDim = embedDim; self.activation = activation
    }

    /// The same architecture as the model schema's config, from which every parameter's name and
    /// shape derive (LayerNorm epsilon 1e-5, what every layer here uses).
    public var model: CLIPConfig {
        CLIPConfig(vision: VisionConfig(imageSize: imageSize, patchSize: patchSize, tower: vision),
                   text: TextConfig(vocabularySize: vocabularySize, contextLength: contextLength, tower: text),
                   embedDim: embedDim, activation: activation)
    }

    public var grid: Int { imageSize / patchSize }
    /// Vision sequence length: the class token and grid² patches.
    public var visionTokens: Int { grid * grid + 1 }

    /// Refuses shapes the layers cannot run, saying which and why.
    public func validate() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw TrainError.invalidConfig(msg) } }
        // Bounds far beyond any model this trainer is for, checked before anything is sized
        // from the config (so a hostile config cannot overflow the layout's arithmetic).
        // Named as the recipe spells them (`--set image_size=…`, the config file's keys).
        for (name, value, limit) in [("image_size", imageSize, 4_096), ("patch_size", patchSize, 4_096),
                                     ("vocab_size", vocabularySize, 1 << 20), ("context_length", contextLength, 4_096),
                                     ("embed_dim", embedDim, 16_384), ("vision_width", vision.width, 16_384),
                                     ("text_width", text.width, 16_384), ("vision_layers", vision.layers, 256),
                                     ("text_layers", text.layers, 256), ("the vision MLP width (4 × vision_width)", vision.mlpWidth, 65_536),
                                     ("the text MLP width (4 × text_width)", text.mlpWidth, 65_536)] {
            try need(value <= limit, "\(name) is \(value); this trainer accepts at most \(limit)")
        }
        try need(patchSize > 0 && imageSize > 0 && imageSize % patchSize == 0,
                 "image_size \(imageSize) must be a positive multiple of patch_size \(patchSize)")
        for (name, t) in [("vision", vision), ("text", text)] {
            try need(t.width > 0 && t.layers >= 0 && t.heads > 0 && t.mlpWidth > 0 && t.width % t.heads == 0,
                     "\(name)_width \(t.width) must be a positive multiple of \(name)_heads \(t.heads)")
        }
        try need(vocabularySize > 1 && contextLength > 0 && embedDim > 0,
                 "vocab_size, context_length and embed_dim must be positive (found \(vocabularySize), \(contextLength), \(embedDim))")
        let params = ParameterLayout(self).count
        try need(params <= 1 << 31, "the model has \(params) parameters; this trainer is for small models (≤ 2³¹)")
    }
}

/// Errors of the training module: what was expected, what was found.
public enum TrainError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case invalidBatch(String)
    case unknownParameter(String)
    case io(String)
    case invalidCheckpoint(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return "invalid training config: \(m)"
        case .invalidBatch(let m): return "invalid batch: \(m)"
        case .unknownParameter(let m): return "unknown parameter: \(m)"
        case .io(let m): return m
        case .invalidCheckpoint(let m): return "invalid training checkpoint \(m)"
        }
    }
}

/// How a parameter is initialized and whether AdamW decays it.
public enum ParameterKind: Sendable, Equatable {
    /// A matmul weight: decayed.
    case weight
    /// LayerNorm gain (init 1), bias (init 0), embeddings, logit scale: not decayed.
    case gain, bias, embedding, logitScale

    public var decays: Bool { self == .weight }
}

/// One named tensor inside the flat parameter buffer.
public struct ParameterView: Sendable, Equatable {
    /// Which tensor of the model: its row of the schema.
    public var id: ModelTensor
    /// Its canonical (open_clip) name.
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var kind: ParameterKind
    /// Standard deviation of the normal initialization (weights and embeddings).
    public var initStd: Float
    public var count: Int { shape.reduce(1, *) }
}

/// The order and offsets of every parameter in one flat buffer (params, grads, Adam moments
/// share it).
public struct ParameterLayout: Sendable {
    public private(set) var views: [ParameterView] = []
    private var index: [String: Int] = [:]
    private var offsets: [ModelTensor: Int] = [:]
    public private(set) var count = 0

    /// The layout of `config`: the schema's tensors in file order, then the logit scale,
    /// following open_clip's (and OpenAI CLIP's) initialization:
    /// - the ViT's class and position embeddings and both projections: std width^-½;
    /// - token embedding std 0.02, text position embedding std 0.01;
    /// - in every block (both towers, as open_clip's Transformer.init_parameters does for the
    ///   text tower): the attention in-projection std width^-½, the attention out-projection and
    ///   the MLP's second matrix std width^-½·(2·layers)^-½, the MLP's first matrix std
    ///   (2·width)^-½; biases 0, LayerNorm gains 1;
    /// - the patch embedding std (3·P²)^-½, i.e. a unit-variance response to unit-variance pixels
    ///   (open_clip leaves conv1 at PyTorch's default uniform init, of std (3·3·P²)^-½);
    /// - logit scale ln(1/0.07).
    public init(_ c: TrainConfig) {
        let model = c.model
        for t in ModelTensor.all(model) {
            let tower = t.tower == .text ? c.text : c.vision
            let width = 1 / Float(tower.width).squareRoot()
            let (kind, std): (ParameterKind, Float)
            switch t.part {
            case .patchEmbedding: (kind, std) = (.weight, 1 / Float(3 * c.patchSize * c.patchSize).squareRoot())
            case .classEmbedding, .visionPositions: (kind, std) = (.embedding, width)
            case .tokenEmbedding: (kind, std) = (.embedding, 0.02)
            case .textPositions: (kind, std) = (.embedding, 0.01)
            case .visionProjection, .textProjection, .qkvWeight: (kind, std) = (.weight, width)
            case .outWeight, .projWeight: (kind, std) = (.weight, width / Float(2 * max(tower.layers, 1)).squareRoot())
            case .fcWeight: (kind, std) = (.weight, 1 / Float(2 * tower.width).squareRoot())
            case .lnPreWeight, .lnPostWeight, .lnFinalWeight, .ln1Weight, .ln2Weight: (kind, std) = (.gain, 0)
            case .lnPreBias, .lnPostBias, .lnFinalBias, .ln1Bias, .ln2Bias, .qkvBias, .outBias, .fcBias, .projBias:
                (kind, std) = (.bias, 0)
            case .logitScale: (kind, std) = (.logitScale, 0)
            }
            index[t.name] = views.count
            offsets[t] = count
            views.append(ParameterView(id: t, name: t.name, shape: t.shape(model), offset: count, kind: kind, initStd: std))
            count += views.last!.count
        }
    }

    /// The view called `name` (an open_clip key).
    public func view(_ name: String) throws -> ParameterView {
        guard let i = index[name] else {
            throw TrainError.unknownParameter("'\(name)' is not a parameter of this model (\(views.count) known, e.g. '\(views.first?.name ?? "")')")
        }
        return views[i]
    }

    /// Offset of the tensor `t`; the model's own tensors, so a miss is a programming error.
    func offset(_ t: ModelTensor) -> Int { offsets[t]! }

    /// Fills `params` with CLIP's initialization from a seeded generator.
    public func initialize(_ params: UnsafeMutablePointer<Float>, seed: UInt64) {
        var rng = SeededNormal(seed: seed)
        for v in views {
            let p = params + v.offset
            switch v.kind {
            case .weight, .embedding: for i in 0..<v.count { p[i] = v.initStd * rng.next() }
            case .gain: p.update(repeating: 1, count: v.count)
            case .bias: p.update(repeating: 0, count: v.count)
            case .logitScale: p[0] = logf(1 / 0.07)
            }
        }
    }
}

/// Standard normal numbers from SplitMix64 + Box–Muller: reproducible across platforms (no
/// dependence on the system generator), which is all a seeded init needs.
public struct SeededNormal {
    private var state: UInt64
    private var spare: Float?

    public init(seed: UInt64) { state = seed }

    /// The generator's whole state, so a resumed training run draws what the uninterrupted one would.
    public struct Snapshot: Equatable, Sendable {
        public var state: UInt64
        public var spare: Float?
        public init(state: UInt64, spare: Float?) { self.state = state; self.spare = spare }
    }

    public var snapshot: Snapshot {
        get { Snapshot(state: state, spare: spare) }
        set { state = newValue.state; spare = newValue.spare }
    }

    public mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0 (Box–Muller takes its log).
    public mutating func uniform() -> Double { (Double(nextUInt64() >> 11) + 0.5) / 9_007_199_254_740_992 }

    public mutating func next() -> Float {
        if let s = spare { spare = nil; return s }
        let r = (-2 * log(uniform())).squareRoot(), a = 2 * Double.pi * uniform()
        spare = Float(r * sin(a))
        return Float(r * cos(a))
    }
}
