// `pocketclip convert`: a float checkpoint in, one .pclip file out.

import ArgumentParser
import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CLIPSupport

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a float checkpoint into one compact .pclip file.",
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

            Examples:
              pocketclip convert ./clip-vit-base-patch32 -o vit-b32.pclip
              pocketclip convert open_clip_model.safetensors -o m.pclip --activation gelu \\
                  --tokenizer bpe_simple_vocab_16e6.txt.gz
              pocketclip convert ./ckpt -o m-f16.pclip --dtype f16 --compress none
            """)

    @OptionGroup var source: ModelOptions

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The .pclip file to write.", valueName: "path"))
    var output: String

    @Option(help: "Weight matrix dtype: q8, f16 or f32.")
    var dtype: WeightDTypeOption = .q8

    @Option(help: "q8 elements per scale along the reduction dimension, for every matrix outside the text blocks; 0 = one scale per output channel.")
    var group: Int = 0

    @Option(help: "q8 group size for the text tower's block matrices; 0 = one scale per output channel. A group as wide as the row or wider is one scale per channel.")
    var textGroup: Int = ConvertOptions.defaultTextGroup

    @Option(help: "How q8 scales are chosen outside the text blocks: amax (max |w| / 127, the reference definition) or mse (the least squared error of 31 clipped candidates, then refitted; docs/benchmarks.md).")
    var scales: ScaleRuleOption = .amax

    @Option(help: "How q8 scales are chosen in the text tower's blocks: mse or amax (see --scales).")
    var textScales: ScaleRuleOption = .mse

    @Option(help: "Per-tensor compression: zstd or none (none: every tensor can be memory-mapped in place).")
    var compress: CompressOption = .zstd

    @Option(help: "zstd level, 1 (fast) to 22 (smallest); int8 weights gain < 0.1% past the default.")
    var level: Int32 = 3

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if group < 0 { throw ValidationError("--group must be 0 (per output channel) or positive") }
        if textGroup < 0 { throw ValidationError("--text-group must be 0 (per output channel) or positive") }
        if !(1...22).contains(level) { throw ValidationError("--level must be from 1 to 22") }
        if CLIPModel.isPclip(source.model) { throw ValidationError("'\(source.model)' is already a .pclip file") }
    }

    func run() throws {
        try reportingErrors {
            let start = monotonicSeconds()
            let progress = ProgressBar(label: "converting")
            let checkpoint = try CheckpointLoader.load(source.model, options: source.checkpointOptions)
            let summary = try PclipConverter.convert(
                checkpoint, to: output,
                options: ConvertOptions(dtype: dtype.dtype, groupSize: group, textGroupSize: textGroup, compress: compress == .zstd,
                                       zstdLevel: level, scaleRule: scales.rule, textScaleRule: textScales.rule),
                progress: progress.update)
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
                    print("note: the group size (--group \(group), --text-group \(textGroup)) does not divide the width of \(summary.perChannelFallbacks.count) matrices (\(summary.perChannelFallbacks.prefix(3).joined(separator: ", "))\(summary.perChannelFallbacks.count > 3 ? ", …" : "")); they use one scale per output channel")
                }
            }
        }
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
