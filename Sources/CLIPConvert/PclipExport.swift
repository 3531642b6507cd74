// Checkpoint → .pclip: quantize or narrow the weight matrices, keep the float-sensitive tensors
// f32, and put config, preprocessing and tokenizer beside them (formats/pclip.md).

import CLIPFormat
import CLIPImage
import CLIPRuntime
import CLIPSupport
import CLIPTokenizer

/// How the weight matrices are stored.
public enum WeightDType: String, Sendable, CaseIterable {
    case q8, f16, f32
}

public struct ConvertOptions: Sendable {
    public var dtype: WeightDType
    /// q8 elements per scale along the reduction dimension; 0 = one scale per output channel.
    public var groupSize: Int
    /// q8 group size for the text tower's block matrices (0: one scale per output channel). The
    /// default, `defaultTextGroup`, is what lifts ViT-B/32's short prompts over cosine 0.9995.
    public var textGroupSize: Int
    public var compress: Bool
    public var zstdLevel: Int32
    /// How q8 scales are chosen (`Q8.ScaleRule`) for every matrix outside the text blocks: amax / 127.
    public var scaleRule: Q8.ScaleRule
    /// How q8 scales are chosen for the text tower's block matrices: least squared error.
    public var textScaleRule: Q8.ScaleRule

    /// Groups of 128 along K with `.mse` scales in the text blocks, one amax scale per output
    /// channel elsewhere: on the random ViT-B/32 every text input of tools/bench/q8-fidelity.py
    /// then stays above cosine 0.9995 to the float model (per channel it does not), for a few
    /// percent of the text tower's time (tools/bench/bench-text-group.sh; docs/benchmarks.md,
    /// "Weight groups"). A width of at most 128 gets one scale per channel.
    public static let defaultTextGroup = 128

    public init(dtype: WeightDType = .q8, groupSize: Int = 0, textGroupSize: Int = ConvertOptions.defaultTextGroup,
                compress: Bool = true, zstdLevel: Int32 = 3, scaleRule: Q8.ScaleRule = .amax,
                textScaleRule: Q8.ScaleRule = .mse) {
        self.dtype = dtype
        self.scaleRule = scaleRule
        self.textScaleRule = textScaleRule
        self.groupSize = groupSize
        self.textGroupSize = textGroupSize
        self.compress = compress
        self.zstdLevel = zstdLevel
    }
}

public struct ConvertSummary: Sendable {
    public let tensorCount: Int
    /// Bytes of the weights as f32 in memory (what the source holds, whatever its file dtype).
    public let floatBytes: Int
    /// Bytes of the tensors once decoded (what a board holds in memory).
    public let decodedBytes: Int
    public let fileBytes: Int
    /// Matrices quantized per output channel because `groupSize` does not divide their width.
    public let perChannelFallbacks: [String]
}

public enum ConvertError: Error, CustomStringConvertible, Equatable {
    case noTokenizer(String)
    case badGroupSize(Int)
    case nonFinite(tensor: String)

    public var description: String {
        switch self {
        case .noTokenizer(let path):
            return "'\(path)' has a text tower but no tokenizer vocabulary; pass --tokenizer bpe_simple_vocab_16e6.txt.gz (or an HF directory with vocab.json and merges.txt)"
        case .badGroupSize(let g):
            return "--group \(g) is invalid: give 0 (one scale per output channel) or a positive group size such as 64"
        case .nonFinite(let tensor):
            return "checkpoint tensor '\(tensor)' holds NaN or infinity; the checkpoint is damaged (or a training run diverged)"
        }
    }
}

public enum PclipConverter {
    /// The metadata object of a converted model.
    static func metadata(_ c: Checkpoint, options: ConvertOptions) -> JSONValue {
        .object([
            ("model", c.config.metadata(logitScale: c.weights.logitScale)),
            ("preprocess", c.preprocess.metadata),
            ("tokenizer", .object([("kind", .string("clip_bpe")),
                                   ("context_length", .number(Double(c.config.text.contextLength)))])),
            ("source", .object([("layout", .string(c.layout.rawValue)), ("dtype", .string(options.dtype.rawValue)),
                                ("group_size", .number(Double(options.groupSize))),
                                ("text_group_size", .number(Double(options.textGroupSize))),
                                ("scales", .string(options.scaleRule.rawValue)),
                                ("text_scales", .string(options.textScaleRule.rawValue))])),
            ("producer", .string("pocketclip 1")),
        ])
    }

    /// Writes `checkpoint` to `path` (atomically). `progress(done, total, name)` is called
    /// before each tensor is encoded and once more at the end.
    @discardableResult
    public static func convert(_ checkpoint: Checkpoint, to path: String, options: ConvertOptions = ConvertOptions(),
                               progress: ((Int, Int, String) -> Void)? = nil) throws -> ConvertSummary {
        guard options.groupSize >= 0 else { throw ConvertError.badGroupSize(options.groupSize) }
        guard options.textGroupSize >= 0 else { throw ConvertError.badGroupSize(options.textGroupSize) }
        if checkpoint.weights.text != nil && checkpoint.tokenizer == nil { throw ConvertError.noTokenizer(checkpoint.path) }
        // Open the output first: an unwritable target fails before minutes of encoding.
        let out = try AtomicFileWriter(path: path)
        let writer = PclipWriter(metadata: metadata(checkpoint, options: options), zstdLevel: options.zstdLevel)
        let tensors = PclipNames.tensors(of: checkpoint.weights)
        let total = tensors.count + (checkpoint.tokenizer == nil ? 0 : 2)
        var fallbacks: [String] = []
        var floatBytes = 0
        let compression: PclipCompression = options.compress ? .zstd : .raw
        for (i, t) in tensors.enumerated() {
            progress?(i, total, t.name)
            floatBytes += 4 * t.tensor.count
            guard t.tensor.values.allSatisfy(\.isFinite) else { throw ConvertError.nonFinite(tensor: t.name) }
            let dims = t.tensor.shape.isEmpty ? [] : t.tensor.shape
            guard t.isMatrix && options.dtype != .f32 else {
                try writer.add(name: t.name, dtype: .f32, dims: dims, compression: compression, decoded: f32Bytes(t.tensor.values))
                continue
            }
            if options.dtype == .f16 {
                try writer.add(name: t.name, dtype: .f16, dims: dims, compression: compression, decoded: f16Bytes(t.tensor.values))
                continue
            }
            let k = dims.last!
            let inText = t.id.tower == .text && t.id.block != nil  // the text tower's blocks
            let asked = inText ? options.textGroupSize : options.groupSize
            // A group as wide as the row or wider is one scale per channel: not a fallback.
            var group = asked == 0 || asked >= k ? k : asked
            if k % group != 0 {
                fallbacks.append(t.name)
                group = k
            }
            try writer.add(name: t.name, dtype: .q8, dims: dims, groupSize: group, compression: compression,
                           decoded: Q8.encode(t.tensor.values, k: k, groupSize: group,
                                              rule: inText ? options.textScaleRule : options.scaleRule))
        }
        if let tokenizer = checkpoint.tokenizer {
            for (j, (name, lines)) in [(PclipNames.vocabulary, tokenizer.vocabulary), (PclipNames.merges, tokenizer.mergeRules)].enumerated() {
                progress?(tensors.count + j, total, name)
                let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
                try writer.add(name: name, dtype: .bytes, dims: [bytes.count], compression: .zstd, decoded: bytes)
            }
        }
        let written = try writer.write(into: out)
        progress?(total, total, "")
        return ConvertSummary(tensorCount: written.tensorCount, floatBytes: floatBytes, decodedBytes: written.decodedBytes,
                              fileBytes: written.fileBytes, perChannelFallbacks: fallbacks)
    }

    static func f32Bytes(_ v: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 4 * v.count)
        out.withUnsafeMutableBytes { o in v.withUnsafeBytes { o.copyMemory(from: $0) } }
        return out
    }

    static func f16Bytes(_ v: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 2 * v.count)
        for (i, x) in v.enumerated() {
            let h = halfFromFloat(x)
            out[2 * i] = UInt8(h & 0xFF)
            out[2 * i + 1] = UInt8(h >> 8)
        }
        return out
    }
}
