// A CLIP model in a .pclip file (formats/pclip.md): the metadata schema, the check of a file
// against the model its metadata describes, and loading. The encoders run q8 matrices as int8
// (mapped in place when stored raw) and widen f16 ones to f32; `CLIPWeights(pclip:)` widens
// everything to f32. Tensor names and shapes come from the schema (CLIPSchema/TensorNames.swift).

import CLIPFormat
import CLIPImage
import CLIPKernels
import CLIPSupport
import CLIPTokenizer

/// One tensor of a model as a .pclip file holds it.
public struct NamedTensor: Sendable {
    /// Which tensor of the model: its row of the schema.
    public let id: ModelTensor
    public let tensor: Tensor
    /// Its .pclip name.
    public var name: String { id.pclipName! }
    /// A weight matrix (or the token embedding) that `--dtype q8|f16` narrows; the rest
    /// (LayerNorms, biases, position and class embeddings) always stays f32.
    public var isMatrix: Bool { id.part.isMatrix }
}

extension PclipNames {
    /// Every weight tensor of `weights`, in file order.
    public static func tensors(of weights: CLIPWeights) -> [NamedTensor] {
        var copy = weights
        var out: [NamedTensor] = []
        copy.visitTensors { id, tensor in out.append(NamedTensor(id: id, tensor: tensor)) }
        return out
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
        func holds(_ tower: ModelTensor.Tower) -> Bool { file.tensors.contains { $0.name.hasPrefix(tower.pclipRoot + ".") } }
        let hasVision = holds(.vision), hasText = holds(.text)
        guard hasVision || hasText else { throw PclipError.badMetadata("the file holds neither tower") }

        // Every name the config implies for the towers present, in file order, and nothing else
        // (shapes from the schema: a few bytes per tensor, and the config is bounded by validate()).
        let tokenizerNames = hasText ? [PclipNames.vocabulary, PclipNames.merges] : []
        let expected: [(name: String, shape: [Int])] =
            ModelTensor.all(config, vision: hasVision, text: hasText, logitScale: false).map { ($0.pclipName!, $0.shape(config)) }
            + tokenizerNames.map { ($0, []) }
        let names = Set(expected.map(\.name))
        for t in file.tensors where !names.contains(t.name) {
            throw PclipError.badMetadata("tensor '\(t.name)' does not belong to the model the metadata describes")
        }
        for (name, shape) in expected {
            let info = try file.info(name)
            let isTokenizer = tokenizerNames.contains(name)
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
    /// The float weights of a .pclip file, q8 and f16 tensors widened to f32, after checking the
    /// file against its config (the towers it holds).
    ///
    /// ```swift
    /// let weights = try CLIPWeights(pclip: try PclipFile(path: "model.pclip"))
    /// ```
    public init(pclip file: PclipFile) throws {
        let (config, logitScale, _, towers) = try CLIPModel.validate(file)
        self.init(config: config, towers: towers)
        self.logitScale = logitScale
        try visitTensors { id, tensor in
            let (dims, values) = try file.floats(id.pclipName!)
            tensor = Tensor(shape: dims, values: values)
        }
    }
}

/// Builds the encoders' execution plans from a .pclip file: q8 matrices stay int8 (mapped in
/// place when raw), f16 ones are widened to f32, f32 ones are read as they are.
struct PlanLoader {
    let file: PclipFile
    let config: CLIPConfig

    func floats(_ t: ModelTensor) throws -> Tensor {
        let (dims, values) = try file.floats(t.pclipName!)
        return Tensor(shape: dims, values: values)
    }

    func linear(_ weight: ModelTensor, bias: ModelTensor?) throws -> RuntimeLinear {
        let b = try bias.map(floats)
        let info = try file.info(weight.pclipName!)
        if info.dtype == .q8 && info.dims.count == 2 {
            let packed = try RuntimeLinear.q8(try Q8Weights(try file.data(info.name)), bias: b?.values)
            file.releasePages(of: info)  // a raw (mapped) tensor is now held once, packed
            return packed
        }
        return .float(LinearWeights(weight: try floats(weight), bias: b))
    }

    func norm(_ weight: ModelTensor, _ bias: ModelTensor) throws -> LayerNormWeights {
        LayerNormWeights(gamma: try floats(weight), beta: try floats(bias))
    }

    func blocks(_ tower: ModelTensor.Tower, _ count: Int) throws -> [BlockPlan] {
        try (0..<count).map { i in
            func t(_ part: TensorPart) -> ModelTensor { ModelTensor(part, tower, block: i) }
            return BlockPlan(ln1: try norm(t(.ln1Weight), t(.ln1Bias)), qkv: try linear(t(.qkvWeight), bias: t(.qkvBias)),
                             attnOut: try linear(t(.outWeight), bias: t(.outBias)), ln2: try norm(t(.ln2Weight), t(.ln2Bias)),
                             fc: try linear(t(.fcWeight), bias: t(.fcBias)), proj: try linear(t(.projWeight), bias: t(.projBias)))
        }
    }

    func vision() throws -> VisionEncoder {
        typealias T = ModelTensor
        return VisionEncoder(
            config: config, patch: try linear(T(.patchEmbedding), bias: nil),
            classEmbedding: try floats(T(.classEmbedding)).values, positionEmbedding: try floats(T(.visionPositions)).values,
            lnPre: try norm(T(.lnPreWeight), T(.lnPreBias)), blocks: try blocks(.vision, config.vision.tower.layers),
            lnPost: try norm(T(.lnPostWeight), T(.lnPostBias)), projection: try linear(T(.visionProjection), bias: nil))
    }

    func text() throws -> TextEncoder {
        typealias T = ModelTensor
        let info = try file.info(T(.tokenEmbedding).pclipName!)
        let embedding: TokenEmbedding = info.dtype == .q8
            ? .q8(try Q8Weights(try file.data(info.name))) : .float(try floats(T(.tokenEmbedding)))
        return TextEncoder(
            config: config, tokenEmbedding: embedding, positionEmbedding: try floats(T(.textPositions)).values,
            blocks: try blocks(.text, config.text.tower.layers), lnFinal: try norm(T(.lnFinalWeight), T(.lnFinalBias)),
            projection: try linear(T(.textProjection), bias: nil))
    }
}
