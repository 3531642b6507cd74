// Re-storing a .pclip file: the same model under other storage choices (formats/pclip.md: per
// tensor raw or zstd, and the zstd level), with no float weights needed. Nothing is requantized:
// every tensor's decoded bytes (int8 values with their scales, f16, f32, the tokenizer's text)
// are copied bit for bit, and the metadata section byte for byte under the file's own minor
// version. What would need the float weights (another dtype, group size, scale rule,
// activation, tokenizer or crop rounding) is refused, naming the choice the file was made with.

import CLIPFormat
import CLIPRuntime
import CLIPSupport

/// A choice a conversion makes that only the float checkpoint can change: each is recorded in
/// the metadata (formats/pclip.md) under `key`.
public enum ConversionChoice: String, Sendable, CaseIterable {
    case dtype, group, textGroup, scales, textScales, activation, cropRounding

    /// The `convert` option that makes it.
    public var flag: String {
        switch self {
        case .dtype: return "--dtype"
        case .group: return "--group"
        case .textGroup: return "--text-group"
        case .scales: return "--scales"
        case .textScales: return "--text-scales"
        case .activation: return "--activation"
        case .cropRounding: return "--crop-rounding"
        }
    }

    /// Where `PclipConverter.metadata` records it: object, then key.
    var key: (String, String) {
        switch self {
        case .dtype: return ("source", "dtype")
        case .group: return ("source", "group_size")
        case .textGroup: return ("source", "text_group_size")
        case .scales: return ("source", "scales")
        case .textScales: return ("source", "text_scales")
        case .activation: return ("model", "activation")
        case .cropRounding: return ("preprocess", "crop_rounding")
        }
    }

    /// The value `metadata` records, spelled as the option takes it (nil: not recorded).
    func recorded(in metadata: JSONValue) -> String? {
        let v = metadata[key.0]?[key.1]
        return v?.string ?? v?.int.map(String.init)
    }
}

public enum RestoreError: Error, CustomStringConvertible, Equatable {
    case needsFloatWeights(input: String, flag: String, asked: String, recorded: String?)
    case hasTokenizer(input: String)

    public var description: String {
        switch self {
        case let .needsFloatWeights(input, flag, asked, recorded):
            let made = recorded.map { "was converted with \(flag) \($0)" } ?? "does not record its \(flag)"
            return "'\(input)' \(made); \(flag) \(asked) needs the float weights, and a .pclip input is only re-stored (--compress, --level): convert the float checkpoint again with \(flag) \(asked)"
        case let .hasTokenizer(input):
            return "'\(input)' carries its own tokenizer; --tokenizer is for float checkpoints without one (a .pclip input is only re-stored: --compress, --level)"
        }
    }
}

/// The storage choices of a re-store (the same as a conversion's: `ConvertOptions.compress`
/// and `zstdLevel`).
public struct RestoreOptions: Sendable {
    /// zstd for every tensor, or raw (memory-mapped in place) for the weights; the tokenizer's
    /// text is zstd either way, as `PclipConverter` writes it (it is parsed, never mapped).
    public var compress: Bool
    public var zstdLevel: Int32

    public init(compress: Bool = true, zstdLevel: Int32 = 3) {
        self.compress = compress
        self.zstdLevel = zstdLevel
    }
}

public enum PclipRestore {
    /// Throws unless every choice in `asked` (a value as its option spells it: "q8", "128",
    /// "gelu", "hf") is the one `file` was converted with: a re-store cannot change them.
    public static func check(_ asked: [ConversionChoice: String], against file: PclipFile) throws {
        for choice in ConversionChoice.allCases {
            guard let value = asked[choice] else { continue }
            let recorded = choice.recorded(in: file.metadata)
            if recorded != value {
                throw RestoreError.needsFloatWeights(input: file.path, flag: choice.flag, asked: value, recorded: recorded)
            }
        }
    }

    /// Writes the model in `input` to `output` (atomically; `output` may be `input` itself, which
    /// is replaced only once the new file is complete) with `options`' storage. `progress(done,
    /// total, name)` is called before each tensor and once more at the end.
    ///
    ///     try PclipRestore.restore("model.pclip", to: "model-raw.pclip", options: RestoreOptions(compress: false))
    @discardableResult
    public static func restore(_ input: String, to output: String, options: RestoreOptions = RestoreOptions(),
                               progress: ((Int, Int, String) -> Void)? = nil) throws -> ConvertSummary {
        try restore(try PclipFile(path: input), to: output, options: options, progress: progress)
    }

    @discardableResult
    public static func restore(_ file: PclipFile, to output: String, options: RestoreOptions = RestoreOptions(),
                               progress: ((Int, Int, String) -> Void)? = nil) throws -> ConvertSummary {
        // The input stays mapped: when `output` is the input's path the rename replaces the name,
        // and the mapping keeps the old file's pages until it is closed.
        let out = try AtomicFileWriter(path: output)
        let writer = PclipWriter(metadataBytes: file.metadataBytes, versionMinor: file.versionMinor, zstdLevel: options.zstdLevel)
        var floatBytes = 0
        for (i, info) in file.tensors.enumerated() {
            progress?(i, file.tensors.count, info.name)
            // A damaged payload (CRC-32, zstd frame) throws here; `out` then removes its temporary.
            let data = try file.data(info.name)
            let compression: PclipCompression = options.compress || info.dtype == .bytes ? .zstd : .raw
            if info.dtype != .bytes { floatBytes += 4 * info.elementCount }
            try data.withUnsafeBytes { decoded in
                try writer.add(name: info.name, dtype: info.dtype, dims: info.dims, groupSize: info.groupSize,
                               compression: compression, decoded: Array(decoded))
            }
        }
        let written = try writer.write(into: out)
        progress?(file.tensors.count, file.tensors.count, "")
        return ConvertSummary(tensorCount: written.tensorCount, floatBytes: floatBytes, decodedBytes: written.decodedBytes,
                              fileBytes: written.fileBytes, perChannelFallbacks: [])
    }
}
