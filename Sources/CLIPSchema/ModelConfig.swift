// The architecture of a CLIP model, as a value read from a checkpoint or a .pclip file.
// Nothing about the architecture comes from command-line flags. The runtime, the converter and
// the trainer share these types; TensorNames.swift derives every tensor's shape from them.

/// The MLP activations CLIP checkpoints use. The weights do not say which: the config must.
public enum Activation: String, Sendable, Codable, CaseIterable {
    /// x · σ(1.702 x): OpenAI's original CLIP weights (and HF's `quick_gelu`).
    case quickGELU = "quick_gelu"
    /// Exact GELU, x · Φ(x) with erf: most OpenCLIP-trained models (HF's `gelu`).
    case gelu = "gelu"
}

/// Shapes of one transformer tower.
public struct TowerConfig: Sendable, Equatable, Codable {
    /// Residual stream width (D).
    public var width: Int
    /// Number of residual blocks.
    public var layers: Int
    /// Attention heads; `width` must be a multiple of it.
    public var heads: Int
    /// Hidden width of the MLP (4·D in every released CLIP).
    public var mlpWidth: Int

    public init(width: Int, layers: Int, heads: Int, mlpWidth: Int) {
        self.width = width
        self.layers = layers
        self.heads = heads
        self.mlpWidth = mlpWidth
    }
}

/// The ViT image tower: an image of `imageSize`² pixels cut into `patchSize`² patches.
public struct VisionConfig: Sendable, Equatable, Codable {
    public var imageSize: Int
    public var patchSize: Int
    public var tower: TowerConfig

    public init(imageSize: Int, patchSize: Int, tower: TowerConfig) {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.tower = tower
    }

    /// Patches per side.
    public var grid: Int { imageSize / patchSize }
    /// Sequence length: one class token plus grid² patches.
    public var tokens: Int { grid * grid + 1 }
}

/// The causal text tower.
public struct TextConfig: Sendable, Equatable, Codable {
    public var vocabularySize: Int
    /// Maximum sequence length (77 in every released CLIP).
    public var contextLength: Int
    public var tower: TowerConfig

    public init(vocabularySize: Int, contextLength: Int, tower: TowerConfig) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.tower = tower
    }
}

/// A whole CLIP model: two towers projected into one `embedDim`-wide space.
public struct CLIPConfig: Sendable, Equatable, Codable {
    public var vision: VisionConfig
    public var text: TextConfig
    public var embedDim: Int
    public var activation: Activation
    /// LayerNorm epsilon; 1e-5 in OpenAI, open_clip and HF checkpoints.
    public var layerNormEps: Float

    public init(vision: VisionConfig, text: TextConfig, embedDim: Int, activation: Activation,
                layerNormEps: Float = 1e-5) {
        self.vision = vision
        self.text = text
        self.embedDim = embedDim
        self.activation = activation
        self.layerNormEps = layerNormEps
    }

    /// Bounds far beyond any CLIP (ViT-bigG: width 1664, 48 layers, MLP 8192), so a hostile
    /// config is refused before anything is sized from it.
    public static let maxWidth = 16_384
    public static let maxLayers = 256
    public static let maxMLPWidth = 65_536
    public static let maxImageSize = 4_096
    public static let maxVocabulary = 1 << 20
    public static let maxContext = 4_096

    /// Checks the relations between the numbers that the encoders rely on, and their bounds.
    public func validate() throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw ModelError.invalidConfig(what) }
        }
        for (name, t) in [("vision", vision.tower), ("text", text.tower)] {
            try require(t.width <= Self.maxWidth && t.layers <= Self.maxLayers && t.mlpWidth <= Self.maxMLPWidth,
                        "\(name) tower \(t) is beyond the limits (width ≤ \(Self.maxWidth), layers ≤ \(Self.maxLayers), MLP ≤ \(Self.maxMLPWidth))")
            try require(t.width > 0 && t.layers >= 0 && t.heads > 0 && t.mlpWidth > 0,
                        "\(name) tower needs positive width, heads and MLP width (found \(t))")
            try require(t.width % t.heads == 0,
                        "\(name) width \(t.width) is not a multiple of its \(t.heads) heads")
        }
        try require(vision.patchSize > 0 && vision.imageSize >= vision.patchSize
                    && vision.imageSize % vision.patchSize == 0,
                    "image size \(vision.imageSize) must be a positive multiple of patch size \(vision.patchSize)")
        try require(vision.imageSize <= Self.maxImageSize, "image size \(vision.imageSize) is beyond \(Self.maxImageSize)")
        try require(text.contextLength >= 2 && text.contextLength <= Self.maxContext,
                    "text context \(text.contextLength) must be from 2 (SOT and EOT) to \(Self.maxContext)")
        try require(text.vocabularySize > 0 && text.vocabularySize <= Self.maxVocabulary,
                    "text vocabulary size \(text.vocabularySize) must be from 1 to \(Self.maxVocabulary)")
        try require(embedDim > 0 && embedDim <= Self.maxWidth, "embedding width \(embedDim) must be from 1 to \(Self.maxWidth)")
        try require(layerNormEps > 0 && layerNormEps < 1, "LayerNorm epsilon \(layerNormEps) is out of range")
    }
}

/// Errors from building or running a model.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case missingTensor(String)
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    case invalidInput(String)
    case badImage(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfig(let what): return "invalid model config: \(what)"
        case .missingTensor(let name): return "the checkpoint has no tensor '\(name)', which this architecture needs"
        case .shapeMismatch(let name, let expected, let found):
            return "tensor '\(name)' has shape \(found), expected \(expected) from the model config"
        case .invalidInput(let what): return what
        case let .badImage(path, reason): return "cannot use image '\(path)': \(reason)"
        }
    }
}
