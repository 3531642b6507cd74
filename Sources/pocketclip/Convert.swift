// `pocketclip convert`: a float checkpoint in, one .pclip file out; or a .pclip file re-stored
// under other storage choices.

import ArgumentParser
import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CLIPSupport

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a float checkpoint into one compact .pclip file, or re-store a .pclip file.",
        discussion: """
            SRC is an HF CLIPModel directory, an OpenCLIP directory or .safetensors file, or the \
            training module's output. The .pclip file holds the weights, the tokenizer, the \
            preprocessing and the architecture: a board needs nothing else. Weight matrices are \
            stored as --dtype (q8: symmetric int8 with one f32 scale per output channel, or per \
            --group elements along the reduction dimension; the text tower's blocks default to \
            groups of 128 with least-squares scales, which keep short prompts within cosine \
            0.9995 of the float model for ~5% of text time); LayerNorms, biases and position \
            embeddings stay f32. The output is written to a temporary file and renamed: an \
            interrupted conversion never leaves a partial file at OUT. PyTorch .pt/.bin \
            checkpoints: convert them with tools/convert/pt-to-safetensors.py first \
            (docs/pt-to-safetensors.md).

            SRC may also be a .pclip file: it is re-stored under --compress and --level, nothing \
            else changes (int8 values and their scales, config, tokenizer and metadata are copied \
            bit for bit), so `--compress none` makes a bundled or downloaded model memory-mappable \
            without its float checkpoint. OUT may be SRC itself: it is replaced only once the new \
            file is whole. Choices only the float weights can change (--dtype, --group, \
            --text-group, --scales, --text-scales, --activation, --tokenizer, --crop-rounding) are \
            refused unless they match the file. Class heads and indexes record the file's \
            fingerprint, which covers the stored bytes: rebuild them from the re-stored file.

            Examples:
              pocketclip convert ./clip-vit-base-patch32 -o vit-b32.pclip
              pocketclip convert open_clip_model.safetensors -o m.pclip --activation gelu \\
                  --tokenizer bpe_simple_vocab_16e6.txt.gz
              pocketclip convert ./ckpt -o m-f16.pclip --dtype f16 --compress none
              pocketclip convert model.pclip -o model-raw.pclip --compress none   # re-store
            """)

    @OptionGroup var source: ModelOptions

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The .pclip file to write.", valueName: "path"))
    var output: String

    // Quantization choices are optional so that a .pclip input can tell "not given" (fine) from
    // "given" (it must match the file); a checkpoint gets the defaults the help names.
    @Option(help: "Weight matrix dtype: q8 (default), f16 or f32.")
    var dtype: WeightDTypeOption?

    @Option(help: "q8 elements per scale along the reduction dimension, for every matrix outside the text blocks; 0 (default) = one scale per output channel.")
    var group: Int?

    @Option(help: "q8 group size for the text tower's block matrices (default \(ConvertOptions.defaultTextGroup)); 0 = one scale per output channel. A group as wide as the row or wider is one scale per channel.")
    var textGroup: Int?

    @Option(help: "How q8 scales are chosen outside the text blocks: amax (default; max |w| / 127, the reference definition) or mse (the least squared error of 31 clipped candidates, then refitted; docs/benchmarks.md).")
    var scales: ScaleRuleOption?

    @Option(help: "How q8 scales are chosen in the text tower's blocks: mse (default) or amax (see --scales).")
    var textScales: ScaleRuleOption?

    @Option(help: "Per-tensor compression: zstd or none (none: every tensor can be memory-mapped in place).")
    var compress: CompressOption = .zstd

    @Option(help: "zstd level, 1 (fast) to 22 (smallest); int8 weights gain < 0.1% past the default.")
    var level: Int32 = 3

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if let group, group < 0 { throw ValidationError("--group must be 0 (per output channel) or positive") }
        if let textGroup, textGroup < 0 { throw ValidationError("--text-group must be 0 (per output channel) or positive") }
        if !(1...22).contains(level) { throw ValidationError("--level must be from 1 to 22") }
    }

    func run() throws {
        try reportingErrors {
            let start = monotonicSeconds()
            let progress = ProgressBar(label: CLIPModel.isPclip(source.model) ? "re-storing" : "converting")
            let summary = try CLIPModel.isPclip(source.model) ? restore(progress: progress) : convert(progress: progress)
            progress.finish()
            let seconds = monotonicSeconds() - start
            if json {
                print("""
                    {"output": \(jsonQuoted(output)), "tensors": \(summary.tensorCount), "float_bytes": \(summary.floatBytes), \
                    "decoded_bytes": \(summary.decodedBytes), "file_bytes": \(summary.fileBytes), \
                    "ratio": \(jsonNumber(Float(summary.floatBytes) / Float(max(1, summary.fileBytes)))), "seconds": \(jsonNumber(Float(seconds))), \
                    "per_channel_fallbacks": [\(summary.perChannelFallbacks.map(jsonQuoted).joined(separator: ", "))]}
                    """)
            } else {
                print("wrote \(output): \(summary.tensorCount) tensors, \(formatBytes(summary.floatBytes)) as f32 → \(formatBytes(summary.fileBytes)) on disk (\(formatRatio(summary.floatBytes, summary.fileBytes))), \(formatBytes(summary.decodedBytes)) in memory, \(formatSeconds(seconds))")
                if !summary.perChannelFallbacks.isEmpty {
                    print("note: the group size (--group \(group ?? 0), --text-group \(textGroup ?? ConvertOptions.defaultTextGroup)) does not divide the width of \(summary.perChannelFallbacks.count) matrices (\(summary.perChannelFallbacks.prefix(3).joined(separator: ", "))\(summary.perChannelFallbacks.count > 3 ? ", …" : "")); they use one scale per output channel")
                }
            }
        }
    }
}

extension Convert {
    func convert(progress: ProgressBar) throws -> ConvertSummary {
        let checkpoint = try CheckpointLoader.load(source.model, options: source.checkpointOptions)
        let defaults = ConvertOptions()
        let options = ConvertOptions(
            dtype: dtype?.dtype ?? defaults.dtype, groupSize: group ?? defaults.groupSize,
            textGroupSize: textGroup ?? defaults.textGroupSize, compress: compress == .zstd, zstdLevel: level,
            scaleRule: scales?.rule ?? defaults.scaleRule, textScaleRule: textScales?.rule ?? defaults.textScaleRule)
        return try PclipConverter.convert(checkpoint, to: output, options: options, progress: progress.update)
    }

    /// A .pclip input: the choices given must be the file's own; only the storage changes.
    func restore(progress: ProgressBar) throws -> ConvertSummary {
        let file = try PclipFile(path: source.model)
        if source.tokenizer != nil { throw RestoreError.hasTokenizer(input: source.model) }
        var asked: [ConversionChoice: String] = [:]
        asked[.dtype] = dtype?.rawValue
        asked[.group] = group.map(String.init)
        asked[.textGroup] = textGroup.map(String.init)
        asked[.scales] = scales?.rawValue
        asked[.textScales] = textScales?.rawValue
        asked[.activation] = source.activation?.rawValue
        // --crop-rounding has a default (openclip), so only the other value shows it was given.
        if source.cropRounding != .openclip { asked[.cropRounding] = source.cropRounding.rawValue }
        try PclipRestore.check(asked, against: file)
        return try PclipRestore.restore(file, to: output, options: RestoreOptions(compress: compress == .zstd, zstdLevel: level),
                                        progress: progress.update)
    }
}

enum WeightDTypeOption: String, ExpressibleByArgument, CaseIterable {
    case q8, f16, f32
    var dtype: WeightDType { WeightDType(rawValue: rawValue)! }
}

enum CompressOption: String, ExpressibleByArgument, CaseIterable {
    case zstd, none
}

enum ScaleRuleOption: String, ExpressibleByArgument, CaseIterable {
    case amax, mse
    var rule: Q8.ScaleRule { self == .mse ? .mse : .amax }
}
