// The trainable parameters of a small CLIP: its shapes (`TrainConfig`), one flat Float buffer
// with a named view per tensor (`ParameterLayout`), and CLIP's seeded initialization.
//
// Names are open_clip's state-dict keys; layouts are the project's canonical ones (the same as
// CLIPRuntime's weights, which this module does not import): every linear weight [out, in],
// attn.in_proj_weight the stacked q/k/v [3D, D], conv1 flattened to [D, 3·P·P] in (channel,
// row, column) order, visual.proj and text_projection as [embedDim, D] (open_clip stores both
// transposed, [D, embedDim]). A later exporter can write HF/open_clip safetensors from this.

import CLIPSupport

/// Shapes of one transformer tower.
public struct TrainTowerConfig: Sendable, Equatable, Codable {
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlpWidth: Int

    public init(width: Int, layers: Int, heads: Int, mlpRatio: Int = 4) {
        self.width = width; self.layers = layers; self.heads = heads; self.mlpWidth = mlpRatio * width
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
    public var vision: TrainTowerConfig
    public var vocabularySize: Int
    public var contextLength: Int
    public var text: TrainTowerConfig
    public var embedDim: Int
    public var activation: TrainActivation

    public init(imageSize: Int, patchSize: Int, vision: TrainTowerConfig, vocabularySize: Int,
                contextLength: Int, text: TrainTowerConfig, embedDim: Int, activation: TrainActivation = .quickGELU) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.vision = vision
        self.vocabularySize = vocabularySize; self.contextLength = contextLength; self.text = text
        self.embedDim = embedDim; self.activation = activation
    }

    public var grid: Int { imageSize / patchSize }
    /// Vision sequence length: the class token and grid² patches.
    public var visionTokens: Int { grid * grid + 1 }

    /// Refuses shapes the layers cannot run, saying which and why.
    public func validate() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw TrainError.invalidConfig(msg) } }
        // Bounds far beyond any model this trainer is for, checked before anything is sized
        // from the config (so a hostile config cannot overflow the layout's arithmetic).
        for (name, value, limit) in [("imageSize", imageSize, 4_096), ("patchSize", patchSize, 4_096),
                                     ("vocabularySize", vocabularySize, 1 << 20), ("contextLength", contextLength, 4_096),
                                     ("embedDim", embedDim, 16_384), ("vision.width", vision.width, 16_384),
                                     ("text.width", text.width, 16_384), ("vision.layers", vision.layers, 256),
                                     ("text.layers", text.layers, 256), ("vision.mlpWidth", vision.mlpWidth, 65_536),
                                     ("text.mlpWidth", text.mlpWidth, 65_536)] {
            try need(value <= limit, "\(name) is \(value); this trainer accepts at most \(limit)")
        }
        try need(patchSize > 0 && imageSize > 0 && imageSize % patchSize == 0,
                 "imageSize \(imageSize) must be a positive multiple of patchSize \(patchSize)")
        for (name, t) in [("vision", vision), ("text", text)] {
            try need(t.width > 0 && t.layers >= 0 && t.heads > 0 && t.mlpWidth > 0 && t.width % t.heads == 0,
                     "\(name) width \(t.width) must be a positive multiple of heads \(t.heads)")
        }
        try need(vocabularySize > 1 && contextLength > 0 && embedDim > 0,
                 "vocabularySize, contextLength and embedDim must be positive (found \(vocabularySize), \(contextLength), \(embedDim))")
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
    public private(set) var count = 0

    /// The layout of `config`, following open_clip's (and OpenAI CLIP's) initialization:
    /// - class and position embeddings of the ViT, visual.proj and text_projection: std width^-½;
    /// - token embedding std 0.02, text position embedding std 0.01;
    /// - in every block (both towers, as open_clip's Transformer.init_parameters does for the
    ///   text tower): in_proj std width^-½, out_proj and c_proj std width^-½·(2·layers)^-½,
    ///   c_fc std (2·width)^-½; biases 0, LayerNorm gains 1;
    /// - conv1 std (3·P²)^-½, i.e. a unit-variance response to unit-variance pixels (open_clip
    ///   leaves conv1 at PyTorch's default uniform init, of std (3·3·P²)^-½);
    /// - logit scale ln(1/0.07).
    public init(_ c: TrainConfig) {
        let dv = c.vision.width, dt = c.text.width, P = c.patchSize
        add("visual.conv1.weight", [dv, 3 * P * P], .weight, 1 / Float(3 * P * P).squareRoot())
        add("visual.class_embedding", [dv], .embedding, 1 / Float(dv).squareRoot())
        add("visual.positional_embedding", [c.visionTokens, dv], .embedding, 1 / Float(dv).squareRoot())
        add("visual.ln_pre.weight", [dv], .gain, 0); add("visual.ln_pre.bias", [dv], .bias, 0)
        addBlocks("visual.transformer.resblocks", c.vision)
        add("visual.ln_post.weight", [dv], .gain, 0); add("visual.ln_post.bias", [dv], .bias, 0)
        add("visual.proj", [c.embedDim, dv], .weight, 1 / Float(dv).squareRoot())
        add("token_embedding.weight", [c.vocabularySize, dt], .embedding, 0.02)
        add("positional_embedding", [c.contextLength, dt], .embedding, 0.01)
        addBlocks("transformer.resblocks", c.text)
        add("ln_final.weight", [dt], .gain, 0); add("ln_final.bias", [dt], .bias, 0)
        add("text_projection", [c.embedDim, dt], .weight, 1 / Float(dt).squareRoot())
        add("logit_scale", [1], .logitScale, 0)
    }

    private mutating func addBlocks(_ prefix: String, _ t: TrainTowerConfig) {
        let d = t.width, h = t.mlpWidth
        let attnStd = 1 / Float(d).squareRoot()
        let projStd = attnStd / Float(2 * max(t.layers, 1)).squareRoot()
        let fcStd = 1 / Float(2 * d).squareRoot()
        for i in 0..<t.layers {
            let p = "\(prefix).\(i)."
            add(p + "ln_1.weight", [d], .gain, 0); add(p + "ln_1.bias", [d], .bias, 0)
            add(p + "attn.in_proj_weight", [3 * d, d], .weight, attnStd); add(p + "attn.in_proj_bias", [3 * d], .bias, 0)
            add(p + "attn.out_proj.weight", [d, d], .weight, projStd); add(p + "attn.out_proj.bias", [d], .bias, 0)
            add(p + "ln_2.weight", [d], .gain, 0); add(p + "ln_2.bias", [d], .bias, 0)
            add(p + "mlp.c_fc.weight", [h, d], .weight, fcStd); add(p + "mlp.c_fc.bias", [h], .bias, 0)
            add(p + "mlp.c_proj.weight", [d, h], .weight, projStd); add(p + "mlp.c_proj.bias", [d], .bias, 0)
        }
    }

    private mutating func add(_ name: String, _ shape: [Int], _ kind: ParameterKind, _ std: Float) {
        index[name] = views.count
        views.append(ParameterView(name: name, shape: shape, offset: count, kind: kind, initStd: std))
        count += shape.reduce(1, *)
    }

    /// The view called `name` (an open_clip key).
    public func view(_ name: String) throws -> ParameterView {
        guard let i = index[name] else {
            throw TrainError.unknownParameter("'\(name)' is not a parameter of this model (\(views.count) known, e.g. '\(views.first?.name ?? "")')")
        }
        return views[i]
    }

    /// Offset of `name`; the model's own names, so a miss is a programming error.
    func offset(_ name: String) -> Int { views[index[name]!].offset }

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
