// What a checkpoint's own config files say that its tensor shapes cannot: attention heads,
// the MLP activation, LayerNorm epsilon, and preprocessing (size, mean, std).
//
// HF `config.json` is written by `save_pretrained` with only the values that differ from the
// class defaults, so a missing key means the `CLIPVisionConfig` / `CLIPTextConfig` default
// (vision 12 heads, text 8 heads, `quick_gelu`, eps 1e-5) — exactly what transformers assumes.
// OpenCLIP's `open_clip_config.json` follows open_clip's `CLIPVisionCfg`/`CLIPTextCfg` defaults
// (head_width 64, 8 text heads, `quick_gelu` false). Either config names the activation, so an
// explicit `--activation` must agree with it unless forced (`CheckpointOptions.forceActivation`);
// only an OpenCLIP file without its config needs `--activation` to say.

import CLIPImage
import CLIPKernels
import CLIPRuntime
import CLIPSupport

struct ConfigSettings {
    var visionHeadsValue: Int?
    var visionHeadWidth: Int?
    var textHeadsValue: Int?
    var textHeadWidth: Int?
    var activation: Activation
    var layerNormEps: Float
    var mean: [Float]
    var std: [Float]
    var resizeTo: Int?
    var cropTo: Int?

    /// OpenAI's normalization constants, open_clip's default when a config names none.
    static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    func visionHeads(width: Int) -> Int { visionHeadsValue ?? width / max(1, visionHeadWidth ?? 64) }
    func textHeads(width: Int) -> Int { textHeadsValue ?? width / max(1, textHeadWidth ?? 64) }

    func preprocess(imageSize: Int) -> PreprocessConfig {
        var p = PreprocessConfig.openAI(size: cropTo ?? imageSize)
        p.mean = mean
        p.std = std
        return p
    }

    static func read(layout: CheckpointLayout, directory: String, options: CheckpointOptions, weightsPath: String) throws
        -> ConfigSettings
    {
        switch layout {
        case .huggingFace: return try readHF(directory: directory, options: options, weightsPath: weightsPath)
        case .openCLIP: return try readOpenCLIP(directory: directory, options: options, weightsPath: weightsPath)
        }
    }

    static func activation(named name: String, in path: String) throws -> Activation {
        switch name {
        case "quick_gelu": return .quickGELU
        case "gelu": return .gelu
        default:
            throw CheckpointError.badConfig(path: path, detail: "hidden_act '\(name)' is not supported (quick_gelu or gelu)")
        }
    }

    /// The config's activation, or an explicit `--activation`: the same one, or another with
    /// `forceActivation` (a config that names the wrong one); `says` quotes the config for the error.
    static func choose(_ fromConfig: Activation, says: String, in path: String, options: CheckpointOptions) throws -> Activation {
        guard let asked = options.activation, asked != fromConfig else { return fromConfig }
        guard options.forceActivation else { throw CheckpointError.activationConflict(path: path, asked: asked, says: says) }
        return asked
    }

    static func floats(_ v: JSONValue?, _ key: String, _ path: String) throws -> [Float]? {
        guard let v else { return nil }
        guard let a = v.array, a.count == 3, a.allSatisfy({ $0.number != nil }) else {
            throw CheckpointError.badConfig(path: path, detail: "\(key) must be three numbers")
        }
        let values = a.map { Float($0.number!) }
        return values
    }

    static func readHF(directory: String, options: CheckpointOptions, weightsPath: String) throws -> ConfigSettings {
        let path = joinPath(directory, "config.json")
        guard fileExists(path) else {
            throw CheckpointError.unrecognized(path: weightsPath, detail: "HF-layout weights need config.json beside them (none in \(directory))")
        }
        let json = try readJSONFile(path)
        let vision = json["vision_config"] ?? .object([])
        let text = json["text_config"] ?? .object([])
        let visionAct = vision["hidden_act"]?.string ?? "quick_gelu"
        let textAct = text["hidden_act"]?.string ?? "quick_gelu"
        guard visionAct == textAct else {
            throw CheckpointError.badConfig(path: path, detail: "vision hidden_act '\(visionAct)' differs from text hidden_act '\(textAct)'; PocketCLIP runs one activation for both")
        }
        let says = vision["hidden_act"] == nil ? "leaves hidden_act at transformers' default 'quick_gelu'" : "says hidden_act '\(visionAct)'"
        let activation = try choose(Self.activation(named: visionAct, in: path), says: says, in: path, options: options)
        let eps = vision["layer_norm_eps"]?.number ?? 1e-5
        var s = ConfigSettings(
            visionHeadsValue: vision["num_attention_heads"]?.int ?? 12, visionHeadWidth: nil,
            textHeadsValue: text["num_attention_heads"]?.int ?? 8, textHeadWidth: nil,
            activation: activation, layerNormEps: Float(eps),
            mean: openAIMean, std: openAIStd, resizeTo: nil, cropTo: nil)
        let prePath = joinPath(directory, "preprocessor_config.json")
        if fileExists(prePath) {
            let pre = try readJSONFile(prePath)
            s.mean = try floats(pre["image_mean"], "image_mean", prePath) ?? openAIMean
            s.std = try floats(pre["image_std"], "image_std", prePath) ?? openAIStd
            s.cropTo = pre["crop_size"]?["height"]?.int ?? pre["crop_size"]?.int
            s.resizeTo = pre["size"]?["shortest_edge"]?.int ?? pre["size"]?.int
            if let r = s.resizeTo, let c = s.cropTo, r != c {
                throw CheckpointError.badConfig(path: prePath, detail: "resize \(r) ≠ crop \(c) is not supported (CLIP resizes to the crop size)")
            }
        }
        return s
    }

    static func readOpenCLIP(directory: String, options: CheckpointOptions, weightsPath: String) throws -> ConfigSettings {
        let path = joinPath(directory, "open_clip_config.json")
        guard fileExists(path) else {
            guard let activation = options.activation else { throw CheckpointError.needsActivation(path: weightsPath) }
            return ConfigSettings(activation: activation, layerNormEps: 1e-5, mean: openAIMean, std: openAIStd)
        }
        let json = try readJSONFile(path)
        guard let model = json["model_cfg"] else {
            throw CheckpointError.badConfig(path: path, detail: "no \"model_cfg\" object (expected the open_clip_config.json layout of open_clip HF-hub repos)")
        }
        let vision = model["vision_cfg"] ?? .object([])
        let text = model["text_cfg"] ?? .object([])
        let quick = model["quick_gelu"]?.bool
        let says = quick.map { "says model_cfg.quick_gelu \($0)" } ?? "leaves model_cfg.quick_gelu at open_clip's default false (gelu)"
        let activation = try choose(quick == true ? .quickGELU : .gelu, says: says, in: path, options: options)
        var s = ConfigSettings(
            visionHeadsValue: nil, visionHeadWidth: vision["head_width"]?.int ?? 64,
            textHeadsValue: text["heads"]?.int ?? 8, textHeadWidth: nil,
            activation: activation, layerNormEps: 1e-5, mean: openAIMean, std: openAIStd)
        if let pre = json["preprocess_cfg"] {
            s.mean = try floats(pre["mean"], "mean", path) ?? openAIMean
            s.std = try floats(pre["std"], "std", path) ?? openAIStd
            if let mode = pre["resize_mode"]?.string, mode != "shortest" {
                throw CheckpointError.badConfig(path: path, detail: "resize_mode '\(mode)' is not supported (only 'shortest', open_clip's default)")
            }
            if let interpolation = pre["interpolation"]?.string, interpolation != "bicubic" {
                throw CheckpointError.badConfig(path: path, detail: "interpolation '\(interpolation)' is not supported (only 'bicubic')")
            }
        }
        return s
    }

    init(visionHeadsValue: Int? = nil, visionHeadWidth: Int? = nil, textHeadsValue: Int? = nil, textHeadWidth: Int? = nil,
         activation: Activation, layerNormEps: Float, mean: [Float], std: [Float], resizeTo: Int? = nil, cropTo: Int? = nil) {
        self.visionHeadsValue = visionHeadsValue
        self.visionHeadWidth = visionHeadWidth
        self.textHeadsValue = textHeadsValue
        self.textHeadWidth = textHeadWidth
        self.activation = activation
        self.layerNormEps = layerNormEps
        self.mean = mean
        self.std = std
        self.resizeTo = resizeTo
        self.cropTo = cropTo
    }
}
