// Loads float CLIP checkpoints in the HF `CLIPModel` and OpenCLIP layouts into the runtime's
// canonical weights, with the architecture derived from tensor shapes where it can be and read
// from the checkpoint's config where it must be (attention heads, activation, preprocessing).
//
// Accepted inputs:
// - an HF directory: `config.json` + `model.safetensors` (+ `vocab.json`/`merges.txt`,
//   `preprocessor_config.json`);
// - an OpenCLIP directory with `open_clip_model.safetensors` (+ `open_clip_config.json`, as on
//   HF-hub open_clip repos, and optionally `bpe_simple_vocab_16e6.txt.gz`);
// - a single `.safetensors` file in either layout (configs are looked for beside it).

import CLIPImage
import CLIPKernels
import CLIPRuntime
import CLIPSupport
import CLIPTokenizer

/// Choices a checkpoint cannot always make for itself.
public struct CheckpointOptions: Sendable {
    /// QuickGELU vs GELU when the checkpoint has no config saying which (OpenCLIP files alone).
    /// One that contradicts the checkpoint's config is an error unless `forceActivation`.
    public var activation: Activation?
    /// Run `activation` even where the checkpoint's config names the other one.
    public var forceActivation: Bool
    /// A tokenizer vocabulary (`bpe_simple_vocab_16e6.txt.gz`, or an HF dir) if the checkpoint has none.
    public var tokenizerPath: String?
    public var towers: Towers
    public var cropRounding: CropRounding

    public init(activation: Activation? = nil, forceActivation: Bool = false, tokenizerPath: String? = nil,
                towers: Towers = .both, cropRounding: CropRounding = .openCLIP) {
        self.activation = activation
        self.forceActivation = forceActivation
        self.tokenizerPath = tokenizerPath
        self.towers = towers
        self.cropRounding = cropRounding
    }
}

/// A loaded float checkpoint: everything needed to run it.
public struct Checkpoint: Sendable {
    public let path: String
    public let layout: CheckpointLayout
    public let config: CLIPConfig
    public let weights: CLIPWeights
    public let preprocess: PreprocessConfig
    /// Nil when neither the checkpoint nor the options name a vocabulary.
    public let tokenizer: CLIPTokenizer?
}

public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case unrecognized(path: String, detail: String)
    case needsActivation(path: String)
    /// `--activation` names one activation, the checkpoint's config (`says`) the other.
    case activationConflict(path: String, asked: Activation, says: String)
    /// `--activation` with a .pclip file converted with the other one.
    case activationFixed(path: String, asked: Activation, has: Activation)
    case badConfig(path: String, detail: String)
    case unsupportedTensors(path: String, names: [String])

    public var description: String {
        switch self {
        case .notFound(let p): return "no checkpoint at '\(p)': the path does not exist"
        case let .unrecognized(p, detail): return "'\(p)' is not a CLIP checkpoint PocketCLIP can read: \(detail)"
        case .needsActivation(let p):
            return "'\(p)' has no open_clip_config.json saying whether the MLP uses QuickGELU or GELU, and the weights cannot tell; pass --activation quick_gelu (OpenAI-trained, '-quickgelu' models) or --activation gelu"
        case let .activationConflict(p, asked, says):
            return "--activation \(asked.rawValue) contradicts config '\(p)', which \(says); drop --activation to use the checkpoint's, or add --force-activation to run \(asked.rawValue) anyway"
        case let .activationFixed(p, asked, has):
            return "'\(p)' runs \(has.rawValue), fixed when it was converted; --activation \(asked.rawValue) applies to float checkpoints: drop it, or convert the float checkpoint again with --activation \(asked.rawValue) (and --force-activation if its config names \(has.rawValue))"
        case let .badConfig(p, detail): return "config '\(p)': \(detail)"
        case let .unsupportedTensors(p, names):
            let shown = names.prefix(5).joined(separator: ", ")
            return "'\(p)' has tensors of an architecture variant PocketCLIP does not run (\(shown)\(names.count > 5 ? ", …" : ""))"
        }
    }
}

/// Largest config file read (a CLIP config is a few kB).
let maxConfigBytes = 16 << 20

func joinPath(_ dir: String, _ name: String) -> String {
    dir.hasSuffix("/") ? dir + name : dir + "/" + name
}

func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

func readJSONFile(_ path: String) throws -> JSONValue {
    let bytes = try ReadOnlyFile(path: path).readAll(limit: maxConfigBytes)
    do { return try parseJSON(bytes) } catch let e as JSONError {
        throw CheckpointError.badConfig(path: path, detail: e.description)
    }
}

public enum CheckpointLoader {
    /// Loads the checkpoint at `path` (a directory or a `.safetensors` file).
    public static func load(_ path: String, options: CheckpointOptions = CheckpointOptions()) throws -> Checkpoint {
        guard fileExists(path) else { throw CheckpointError.notFound(path) }
        if let what = notAModel(path) { throw CheckpointError.unrecognized(path: path, detail: what + "; " + modelAccepted) }
        let (weightsPath, dir) = try locateWeights(path)
        let file = try SafetensorsFile(path: weightsPath)
        // The layout whose patch or token embedding name the file has.
        let probes = [ModelTensor(.patchEmbedding), ModelTensor(.tokenEmbedding)]
        guard let layout = CheckpointLayout.allCases.first(where: { layout in
            probes.contains { file.tensors[$0.names(in: layout)[0]] != nil }
        }) else {
            let patch = probes[0]
            throw CheckpointError.unrecognized(
                path: weightsPath, detail: "it has neither OpenCLIP names (\(patch.names(in: .openCLIP)[0])) nor HF CLIPModel names (\(patch.names(in: .huggingFace)[0]))")
        }
        let settings = try ConfigSettings.read(layout: layout, directory: dir, options: options, weightsPath: weightsPath)
        let reader = WeightReader(file: file, layout: layout)
        let config = try deriveConfig(reader, settings: settings)
        try config.validate()
        var weights = try reader.weights(config, towers: options.towers)
        weights.logitScale = try reader.scalar(.logitScale)
        let unknown = reader.unexpectedNames()
        if !unknown.isEmpty { throw CheckpointError.unsupportedTensors(path: weightsPath, names: unknown) }
        try weights.validate(against: config)
        var preprocess = settings.preprocess(imageSize: config.vision.imageSize)
        preprocess.cropRounding = options.cropRounding
        return Checkpoint(path: path, layout: layout, config: config, weights: weights, preprocess: preprocess,
                          tokenizer: try loadTokenizer(directory: dir, layout: layout, options: options))
    }

    /// The weights file and the directory its configs are in.
    static func locateWeights(_ path: String) throws -> (String, String) {
        guard isDirectory(path) else { return (path, parentDirectory(path)) }
        for name in ["model.safetensors", "open_clip_model.safetensors"] where fileExists(joinPath(path, name)) {
            return (joinPath(path, name), path)
        }
        throw CheckpointError.unrecognized(
            path: path, detail: "the directory has no model.safetensors (HF layout) or open_clip_model.safetensors (OpenCLIP layout); PyTorch .bin/.pt files must be converted to safetensors first")
    }

    static func loadTokenizer(directory: String, layout: CheckpointLayout, options: CheckpointOptions) throws
        -> CLIPTokenizer?
    {
        if let explicit = options.tokenizerPath {
            return isDirectory(explicit)
                ? try CLIPTokenizer.load(huggingFaceDirectory: explicit) : try CLIPTokenizer.load(bpeFile: explicit)
        }
        if fileExists(joinPath(directory, "vocab.json")) && fileExists(joinPath(directory, "merges.txt")) {
            return try CLIPTokenizer.load(huggingFaceDirectory: directory)
        }
        for name in ["bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt"] where fileExists(joinPath(directory, name)) {
            return try CLIPTokenizer.load(bpeFile: joinPath(directory, name))
        }
        return nil
    }

    /// Architecture from shapes; heads and eps from the config.
    static func deriveConfig(_ r: WeightReader, settings s: ConfigSettings) throws -> CLIPConfig {
        typealias T = ModelTensor
        let visionWidth = try r.shape(T(.classEmbedding))[0]
        let conv = try r.shape(T(.patchEmbedding))
        guard conv.count == 4, conv[1] == 3, conv[2] == conv[3] else {
            throw CheckpointError.unrecognized(path: r.file.path, detail: "patch embedding has shape \(conv), expected [width, 3, P, P]")
        }
        let patch = conv[2]
        let visionTokens = try r.shape(T(.visionPositions))[0]
        var grid = 0
        while (grid + 1) * (grid + 1) <= visionTokens - 1 { grid += 1 }
        guard grid * grid == visionTokens - 1 else {
            throw CheckpointError.unrecognized(path: r.file.path, detail: "\(visionTokens) vision positions is not 1 + a square number of patches")
        }
        let visionLayers = r.blockCount(.vision)
        let visionMLP = try r.shape(T(.fcWeight, .vision, block: 0))[0]
        let token = try r.shape(T(.tokenEmbedding))
        let textPositions = try r.shape(T(.textPositions))[0]
        let textWidth = token[1]
        let textLayers = r.blockCount(.text)
        let textMLP = try r.shape(T(.fcWeight, .text, block: 0))[0]
        // [E, D] as stored, or [D, E] where the layout stores the projection transposed.
        let projection = try r.shape(T(.visionProjection))
        let embedDim = T(.visionProjection).transform(r.layout) == .transpose ? projection[1] : projection[0]
        return CLIPConfig(
            vision: VisionConfig(
                imageSize: grid * patch, patchSize: patch,
                tower: TowerConfig(width: visionWidth, layers: visionLayers,
                                   heads: s.visionHeads(width: visionWidth), mlpWidth: visionMLP)),
            text: TextConfig(
                vocabularySize: token[0], contextLength: textPositions,
                tower: TowerConfig(width: textWidth, layers: textLayers,
                                   heads: s.textHeads(width: textWidth), mlpWidth: textMLP)),
            embedDim: embedDim, activation: s.activation, layerNormEps: s.layerNormEps)
    }
}
