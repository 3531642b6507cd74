// A CLIP model in a .pclip file (formats/pclip.md): the tensor names, the metadata schema, and
// loading into the float runtime (q8 and f16 tensors are widened to f32 on load until the int8
// runtime executes them directly). The names here are the one table both the converter and the
// loader use.

import CLIPFormat
import CLIPImage
import CLIPKernels
import CLIPSupport
import CLIPTokenizer

/// One tensor of a model as a .pclip file names it.
public struct NamedTensor: Sendable {
    public let name: String
    public let tensor: Tensor
    /// A weight matrix (or the token embedding) that `--dtype q8|f16` narrows; the rest
    /// (LayerNorms, biases, position and class embeddings) always stays f32.
    public let isMatrix: Bool
}

/// The .pclip names of a model's tensors: `visitTensors` is the one table of names; listing
/// the tensors (converter) and filling them in (loader) both walk it.
public enum PclipNames {
    public static let vocabulary = "tokenizer.vocabulary"
    public static let merges = "tokenizer.merges"

    /// Every weight tensor of `weights`, in file order.
    public static func tensors(of weights: CLIPWeights) -> [NamedTensor] {
        var copy = weights
        var out: [NamedTensor] = []
        copy.visitTensors { name, tensor, isMatrix in out.append(NamedTensor(name: name, tensor: tensor, isMatrix: isMatrix)) }
        return out
    }
}

extension CLIPWeights {
    /// Calls `body` with each tensor's .pclip name, the tensor (which it may replace) and whether
    /// it is a matrix that `--dtype` narrows, in file order.
    public mutating func visitTensors(_ body: (String, inout Tensor, Bool) throws -> Void) rethrows {
        func linear(_ name: String, _ l: inout LinearWeights) throws {
            try body(name + ".weight", &l.weight, true)
            if l.bias != nil { try body(name + ".bias", &l.bias!, false) }
        }
        func norm(_ name: String, _ n: inout LayerNormWeights) throws {
            try body(name + ".weight", &n.gamma, false)
            try body(name + ".bias", &n.beta, false)
        }
        func blocks(_ prefix: String, _ blocks: inout [BlockWeights]) throws {
            for i in blocks.indices {
                let p = "\(prefix).blocks.\(i)."
                try norm(p + "ln_1", &blocks[i].ln1)
                try linear(p + "attn.qkv", &blocks[i].qkv)
                try linear(p + "attn.out", &blocks[i].attnOut)
                try norm(p + "ln_2", &blocks[i].ln2)
                try linear(p + "mlp.fc", &blocks[i].fc)
                try linear(p + "mlp.proj", &blocks[i].proj)
            }
        }
        if vision != nil {
            try body("vision.patch_embed", &vision!.patchEmbedding, true)
            try body("vision.class_embed", &vision!.classEmbedding, false)
            try body("vision.pos_embed", &vision!.positionEmbedding, false)
            try norm("vision.ln_pre", &vision!.lnPre)
            try blocks("vision", &vision!.blocks)
            try norm("vision.ln_post", &vision!.lnPost)
            try body("vision.proj", &vision!.projection, true)
        }
        if text != nil {
            try body("text.token_embed", &text!.tokenEmbedding, true)
            try body("text.pos_embed", &text!.positionEmbedding, false)
            try blocks("text", &text!.blocks)
            try norm("text.ln_final", &text!.lnFinal)
            try body("text.proj", &text!.projection, true)
        }
    }
}

// MARK: - Metadata

extension CLIPConfig {
    /// The "model" object of the metadata.
    public func metadata(logitScale: Float) -> JSONValue {
        func tower(_ t: TowerConfig) -> [(key: String, value: JSONValue)] {
            [("width", .number(Double(t.width))), ("layers", .number(Double(t.layers))),
             ("heads", .number(Double(t.heads))), ("mlp_width", .number(Double(t.mlpWidth)))]
        }
        return .object([
            ("vision", .object([("image_size", .number(Double(vision.imageSize))),
                                ("patch_size", .number(Double(vision.patchSize)))] + tower(vision.tower))),
            ("text", .object([("vocabulary_size", .number(Double(text.vocabularySize))),
                              ("context_length", .number(Double(text.contextLength)))] + tower(text.tower))),
            ("embed_dim", .number(Double(embedDim))),
            ("activation", .string(activation.rawValue)),
            ("layer_norm_eps", .number(Double(layerNormEps))),
            ("logit_scale", .number(Double(logitScale))),
        ])
    }

    /// Reads the "model" object, naming the first missing or ill-typed key.
    public static func fromMetadata(_ m: JSONValue) throws -> (CLIPConfig, logitScale: Float) {
        func int(_ v: JSONValue?, _ path: String) throws -> Int {
            guard let i = v?.int, i >= 0, i < 1 << 31 else { throw PclipError.badMetadata("\(path) must be a non-negative integer") }
            return i
        }
        func float(_ v: JSONValue?, _ path: String) throws -> Float {
            guard let d = v?.number, d.isFinite else { throw PclipError.badMetadata("\(path) must be a number") }
            return Float(d)
        }
        func tower(_ t: JSONValue?, _ path: String) throws -> TowerConfig {
            TowerConfig(width: try int(t?["width"], "\(path).width"), layers: try int(t?["layers"], "\(path).layers"),
                        heads: try int(t?["heads"], "\(path).heads"), mlpWidth: try int(t?["mlp_width"], "\(path).mlp_width"))
        }
        guard let model = m["model"], model.members != nil else { throw PclipError.badMetadata("no \"model\" object") }
        let v = model["vision"], t = model["text"]
        guard let activationName = model["activation"]?.string, let activation = Activation(rawValue: activationName) else {
            throw PclipError.badMetadata("model.activation must be \"quick_gelu\" or \"gelu\"")
        }
        let config = CLIPConfig(
            vision: VisionConfig(imageSize: try int(v?["image_size"], "model.vision.image_size"),
                                 patchSize: try int(v?["patch_size"], "model.vision.patch_size"),
                                 tower: try tower(v, "model.vision")),
            text: TextConfig(vocabularySize: try int(t?["vocabulary_size"], "model.text.vocabulary_size"),
                             contextLength: try int(t?["context_length"], "model.text.context_length"),
                             tower: try tower(t, "model.text")),
            embedDim: try int(model["embed_dim"], "model.embed_dim"), activation: activation,
            layerNormEps: try float(model["layer_norm_eps"], "model.layer_norm_eps"))
        do { try config.validate() } catch let e as ModelError { throw PclipError.badMetadata("\(e)") }
        return (config, try float(model["logit_scale"], "model.logit_scale"))
    }
}

extension PreprocessConfig {
    /// The "preprocess" object of the metadata.
    public var metadata: JSONValue {
        .object([
            ("size", .number(Double(size))),
            ("mean", .array(mean.map { .number(Double($0)) })),
            ("std", .array(std.map { .number(Double($0)) })),
            ("crop_rounding", .string(cropRounding == .openCLIP ? "openclip" : "hf")),
            ("order", .string(order == .resizeThenConvert ? "resize_then_convert" : "convert_then_resize")),
        ])
    }

    public static func fromMetadata(_ m: JSONValue) throws -> PreprocessConfig {
        guard let p = m["preprocess"], p.members != nil else { throw PclipError.badMetadata("no \"preprocess\" object") }
        guard let size = p["size"]?.int, size > 0, size <= PreprocessConfig.maxSize else {
            throw PclipError.badMetadata("preprocess.size must be an integer from 1 to \(PreprocessConfig.maxSize)")
        }
        func three(_ key: String) throws -> [Float] {
            guard let a = p[key]?.array, a.count == 3, a.allSatisfy({ $0.number?.isFinite == true }) else {
                throw PclipError.badMetadata("preprocess.\(key) must be three numbers")
            }
            return a.map { Float($0.number!) }
        }
        let std = try three("std")
        guard std.allSatisfy({ $0 > 0 }) else { throw PclipError.badMetadata("preprocess.std must be positive") }
        let rounding: CropRounding
        switch p["crop_rounding"]?.string {
        case "openclip": rounding = .openCLIP
        case "hf": rounding = .huggingFace
        default: throw PclipError.badMetadata("preprocess.crop_rounding must be \"openclip\" or \"hf\"")
        }
        let order: ResizeOrder
        switch p["order"]?.string {
        case "resize_then_convert": order = .resizeThenConvert
        case "convert_then_resize": order = .convertThenResize
        default: throw PclipError.badMetadata("preprocess.order must be \"resize_then_convert\" or \"convert_then_resize\"")
        }
        return PreprocessConfig(size: size, mean: try three("mean"), std: std, cropRounding: rounding, order: order)
    }
}

// MARK: - Loading

/// Which towers to load: commands that need one never pay for the other.
public enum Towers: Sendable {
    case both, vision, text
    public var vision: Bool { self != .text }
    public var text: Bool { self != .vision }
}

extension CLIPModel {
    /// True if the file at `path` starts with the .pclip magic.
    public static func isPclip(_ path: String) -> Bool {
        guard let f = try? ReadOnlyFile(path: path), f.size >= 8, let head = try? f.bytes(at: 0, count: 8) else { return false }
        return head == Pclip.magic
    }

    /// Checks a container against the model its metadata describes (formats/pclip.md, steps 3
    /// and 5: schema, config, tensor names, shapes and dtypes) without reading any payload.
    /// Returns the config, logit scale, preprocessing and which towers the file holds.
    public static func validate(_ file: PclipFile) throws
        -> (config: CLIPConfig, logitScale: Float, preprocess: PreprocessConfig, towers: Towers)
    {
        let (config, logitScale) = try CLIPConfig.fromMetadata(file.metadata)
        let preprocess = try PreprocessConfig.fromMetadata(file.metadata)
        if preprocess.size != config.vision.imageSize {
            throw PclipError.badMetadata("preprocess.size \(preprocess.size) differs from model.vision.image_size \(config.vision.imageSize)")
        }
        let hasVision = file.tensors.contains { $0.name.hasPrefix("vision.") }
        let hasText = file.tensors.contains { $0.name.hasPrefix("text.") }
        guard hasVision || hasText else { throw PclipError.badMetadata("the file holds neither tower") }

        // Every name the config implies for the towers present, in file order, and nothing else.
        // The skeleton has shapes but no values (the config is bounded by validate()).
        var expected = PclipNames.tensors(of: CLIPWeights.skeleton(config: config, vision: hasVision, text: hasText))
            .map { (name: $0.name, shape: $0.tensor.shape) }
        if hasText { expected += [(PclipNames.vocabulary, []), (PclipNames.merges, [])] }
        let names = Set(expected.map(\.name))
        for t in file.tensors where !names.contains(t.name) {
            throw PclipError.badMetadata("tensor '\(t.name)' does not belong to the model the metadata describes")
        }
        for (name, shape) in expected {
            let info = try file.info(name)
            let isTokenizer = name.hasPrefix("tokenizer.")
            if isTokenizer != (info.dtype == .bytes) {
                throw PclipError.wrongDType(tensor: name, expected: isTokenizer ? "bytes" : "f32, f16 or q8", found: info.dtype)
            }
            if !isTokenizer && info.dims != shape {
                throw ModelError.shapeMismatch(tensor: name, expected: shape, found: info.dims)
            }
        }
        return (config, logitScale, preprocess, hasVision && hasText ? .both : (hasVision ? .vision : .text))
    }

    /// Loads a model from a .pclip file, checking its tensors against its config first.
    ///
    /// ```swift
    /// let model = try CLIPModel.load(pclip: "model.pclip", towers: .vision)
    /// ```
    public static func load(pclip path: String, towers: Towers = .both, threads: Int = 1) throws -> CLIPModel {
        let file = try PclipFile(path: path)
        let (config, logitScale, preprocess, present) = try validate(file)
        if towers.vision && !present.vision { throw ModelError.invalidInput("'\(path)' holds no vision tower; convert the model with it") }
        if towers.text && !present.text { throw ModelError.invalidInput("'\(path)' holds no text tower; convert the model with it") }
        // The tokenizer first: its parsing garbage is freed before the weights arrive, so it
        // does not add to the peak.
        let tokenizer = towers.text ? try loadTokenizer(file) : nil
        let loader = PlanLoader(file: file, config: config)
        let vision = towers.vision ? try loader.vision() : nil
        let text = towers.text ? try loader.text() : nil
        return try CLIPModel(config: config, vision: vision, text: text, logitScale: logitScale, preprocess: preprocess,
                             tokenizer: tokenizer, fingerprint: fingerprint(of: file), threads: threads)
    }

    /// CRC-32 over every tensor's CRC-32 in directory order: changes with any weight.
    static func fingerprint(of file: PclipFile) -> UInt32 {
        var bytes: [UInt8] = []
        for t in file.tensors { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: t.crc32 >> (8 * i))) } }
        return crc32(bytes)
    }

    static func loadTokenizer(_ file: PclipFile) throws -> CLIPTokenizer {
        func lines(_ name: String) throws -> [String] {
            let bytes = try file.bytes(name)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw PclipError.badPayload(tensor: name, detail: "not UTF-8 text")
            }
            var out = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if out.last == "" { out.removeLast() }
            return out
        }
        let tokens = try lines(PclipNames.vocabulary)
        var vocabulary: [String: Int32] = [:]
        for (id, token) in tokens.enumerated() { vocabulary[token] = Int32(id) }
        return try CLIPTokenizer(vocabulary: vocabulary, merges: try lines(PclipNames.merges))
    }
}

extension CLIPWeights {
    /// Weights with the shapes `config` implies and no values (the skeleton a file is checked
    /// against: costs a few bytes per tensor whatever the config claims).
    static func skeleton(config c: CLIPConfig, vision: Bool, text: Bool) -> CLIPWeights {
        func ln(_ d: Int) -> LayerNormWeights { LayerNormWeights(gamma: .shape([d]), beta: .shape([d])) }
        func lin(_ o: Int, _ i: Int) -> LinearWeights { LinearWeights(weight: .shape([o, i]), bias: .shape([o])) }
        func blocks(_ t: TowerConfig) -> [BlockWeights] {
            (0..<t.layers).map { _ in
                BlockWeights(ln1: ln(t.width), qkv: lin(3 * t.width, t.width), attnOut: lin(t.width, t.width),
                             ln2: ln(t.width), fc: lin(t.mlpWidth, t.width), proj: lin(t.width, t.mlpWidth))
            }
        }
        let v = c.vision, d = v.tower.width, td = c.text.tower.width
        return CLIPWeights(
            vision: vision ? VisionWeights(
                patchEmbedding: .shape([d, 3 * v.patchSize * v.patchSize]), classEmbedding: .shape([d]),
                positionEmbedding: .shape([v.tokens, d]), lnPre: ln(d), blocks: blocks(v.tower), lnPost: ln(d),
                projection: .shape([c.embedDim, d])) : nil,
            text: text ? TextWeights(
                tokenEmbedding: .shape([c.text.vocabularySize, td]), positionEmbedding: .shape([c.text.contextLength, td]),
                blocks: blocks(c.text.tower), lnFinal: ln(td), projection: .shape([c.embedDim, td])) : nil,
            logitScale: 0)
    }
}

/// Builds the encoders' execution plans from a .pclip file: q8 matrices stay int8 (mapped in
/// place when raw), f16 ones are widened to f32, f32 ones are read as they are.
struct PlanLoader {
    let file: PclipFile
    let config: CLIPConfig

    func floats(_ name: String) throws -> Tensor {
        let (dims, values) = try file.floats(name)
        return Tensor(shape: dims, values: values)
    }

    func linear(_ name: String, bias: Bool = true) throws -> RuntimeLinear {
        let b = bias ? try floats(name + ".bias") : nil
        let info = try file.info(name + (bias ? ".weight" : ""))
        if info.dtype == .q8 && info.dims.count == 2 {
            let packed = try RuntimeLinear.q8(try Q8Weights(try file.data(info.name)), bias: b?.values)
            file.releasePages(of: info)  // a raw (mapped) tensor is now held once, packed
            return packed
        }
        return .float(LinearWeights(weight: try floats(info.name), bias: b))
    }

    func norm(_ name: String) throws -> LayerNormWeights {
        LayerNormWeights(gamma: try floats(name + ".weight"), beta: try floats(name + ".bias"))
    }

    func blocks(_ prefix: String, _ count: Int) throws -> [BlockPlan] {
        try (0..<count).map { i in
            let p = "\(prefix).blocks.\(i)."
            return BlockPlan(ln1: try norm(p + "ln_1"), qkv: try linear(p + "attn.qkv"), attnOut: try linear(p + "attn.out"),
                             ln2: try norm(p + "ln_2"), fc: try linear(p + "mlp.fc"), proj: try linear(p + "mlp.proj"))
        }
    }

    func vision() throws -> VisionEncoder {
        VisionEncoder(config: config, patch: try linear("vision.patch_embed", bias: false),
                      classEmbedding: try floats("vision.class_embed").values,
                      positionEmbedding: try floats("vision.pos_embed").values, lnPre: try norm("vision.ln_pre"),
                      blocks: try blocks("vision", config.vision.tower.layers), lnPost: try norm("vision.ln_post"),
                      projection: try linear("vision.proj", bias: false))
    }

    func text() throws -> TextEncoder {
        let info = try file.info("text.token_embed")
        let embedding: TokenEmbedding = info.dtype == .q8
            ? .q8(try Q8Weights(try file.data(info.name))) : .float(try floats(info.name))
        return TextEncoder(config: config, tokenEmbedding: embedding, positionEmbedding: try floats("text.pos_embed").values,
                           blocks: try blocks("text", config.text.tower.layers), lnFinal: try norm("text.ln_final"),
                           projection: try linear("text.proj", bias: false))
    }
}
