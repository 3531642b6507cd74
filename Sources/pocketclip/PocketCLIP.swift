// The `pocketclip` command line: argument parsing and output formatting only. Everything a
// library user would need lives in CLIPRuntime / CLIPConvert.

import ArgumentParser
import CLIPConvert
import CLIPFormat
import CLIPImage
import CLIPKernels
import CLIPRuntime
import CLIPSupport

@main
struct PocketCLIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pocketclip",
        abstract: "CLIP on small Linux boards: embed images and text, classify images zero-shot.",
        discussion: """
            MODEL is a .pclip file (made by `pocketclip convert`) or a float checkpoint: an HF \
            CLIPModel directory (config.json + model.safetensors), an OpenCLIP directory \
            (open_clip_model.safetensors + open_clip_config.json), or one .safetensors file.

            Examples:
              pocketclip convert ./clip-vit-base-patch32 -o vit-b32.pclip
              pocketclip classify vit-b32.pclip cat.jpg --labels "cat,dog,car"
              pocketclip embed vit-b32.pclip --image cat.jpg --text "a photo of a cat"
              pocketclip inspect vit-b32.pclip
              pocketclip index build vit-b32.pclip photos/ -o photos.index
              pocketclip tokenize vit-b32.pclip --text "a photo of a cat"

            Exit status: 0 done; 1 the run failed (one line on stderr says why); 3 with \
            --keep-going, some images could not be used (each named on stderr) and the output \
            holds the others; 64 a mistake in the arguments (one line on stderr).
            """,
        // Read when first printed, so the kernels named are the ones this CPU (and POCKETCLIP_ISA) picks.
        version: "pocketclip \(pocketclipVersion) (.pclip format \(Pclip.versionMajor).\(Pclip.versionMinor); int8 kernels: \(KernelISA.current.name))",
        subcommands: [Classify.self, Embed.self, Convert.self, Inspect.self, Verify.self, Head.self, Bench.self, Profile.self, Index.self,
                      Tokenize.self] + trainingCommands)

    /// ArgumentParser's `main`, except that an argument mistake is one line on stderr (its
    /// message and where to read more) instead of the message, the usage and a help hint; the
    /// exit status stays 64 (EX_USAGE). Help, `--version` and the commands' own errors (already
    /// one line, from `reportingErrors`) go through ArgumentParser unchanged.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = self.message(for: error)
            guard code == .validationFailure, let first = message.split(separator: "\n").first else { exit(withError: error) }
            writeStderr("error: \(lowercasingFirst(String(first)))\(helpHint(fullMessage(for: error)))\n")
            exit(withError: code)  // the status alone: ExitCode prints nothing
        }
    }
}

/// " (see 'pocketclip classify --help')" from the "See '…' for more information." line of
/// ArgumentParser's full message, which names the subcommand that was being parsed; "" if none.
private func helpHint(_ fullMessage: String) -> String {
    for line in fullMessage.split(separator: "\n") {
        let words = line.split(separator: "'", omittingEmptySubsequences: false)
        if words.count >= 3, words[0].hasSuffix("See ") { return " (see '\(words[1])')" }
    }
    return ""
}

/// ArgumentParser's messages start with a capital ("Missing expected argument"); ours do not.
private func lowercasingFirst(_ s: String) -> String {
    guard let f = s.first, f.isUppercase, s.dropFirst().first?.isUppercase != true else { return s }
    return f.lowercased() + s.dropFirst()
}

/// More images than this through a float model earn the hint to convert it (a handful is fine).
let floatHintImages = 8

/// `s` as a shell word: as is when plain, else in single quotes.
func shellQuoted(_ s: String) -> String {
    let plain = !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) }
    return plain ? s : "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}

/// The release this executable is.
let pocketclipVersion = "0.9.0"

/// `train` and `eval` exist only with the "Training" trait (on by default; a board build has neither).
#if Training
private var trainingCommands: [ParsableCommand.Type] { [Train.self, Eval.self] }
#else
private var trainingCommands: [ParsableCommand.Type] { [] }
#endif

/// How to read a checkpoint: options for what its files may not say.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The model: a .pclip file, a checkpoint directory or a .safetensors file.")
    var model: String

    @Option(help: ArgumentHelp(
        "MLP activation, for OpenCLIP files without open_clip_config.json: quick_gelu or gelu. One that contradicts the checkpoint's config is an error unless --force-activation.",
        valueName: "kind"))
    var activation: Activation?

    @Flag(help: "Run --activation even where the checkpoint's config names the other one (a config known to be wrong).")
    var forceActivation = false

    @Option(help: ArgumentHelp(
        "Tokenizer vocabulary if the checkpoint has none: bpe_simple_vocab_16e6.txt.gz or an HF directory.",
        valueName: "path"))
    var tokenizer: String?

    @Option(help: ArgumentHelp("Center-crop offset rounding: openclip (default) or hf.", valueName: "rule"))
    var cropRounding: CropRoundingOption = .openclip

    @Option(help: ArgumentHelp("Threads per forward pass (default: the cores this process may use; at most 4 × those, 256).", valueName: "n"))
    var threads: Int?

    var threadCount: Int { threads ?? WorkerPool.availableCores }

    func validate() throws {
        try checkThreads(threads)
        if forceActivation && activation == nil { throw ValidationError("--force-activation needs --activation quick_gelu or gelu") }
    }

    /// The checkpoint options these flags give.
    var checkpointOptions: CheckpointOptions {
        CheckpointOptions(activation: activation, forceActivation: forceActivation, tokenizerPath: tokenizer,
                          cropRounding: cropRounding.rounding)
    }

    /// One hint line on stderr when `model` holds float weights (a checkpoint, or an f32/f16
    /// .pclip) and more than `floatHintImages` images are about to run through it: the int8
    /// kernels of a q8 .pclip are what this project is for. Stdout (JSON, CSV) is untouched.
    func hintIfFloat(_ model: CLIPModel, images: Int) {
        guard images > floatHintImages else { return }
        let isFloat = model.fingerprint == nil
            || (try? PclipFile(path: self.model))?.tensors.contains { $0.dtype == .q8 } == false
        guard isFloat else { return }
        writeStderr("hint: '\(self.model)' holds float weights; for more than a few images convert it once to a q8 .pclip, "
            + "which runs on the int8 kernels: pocketclip convert \(shellQuoted(self.model)) -o model.pclip\n")
    }

    func load(towers: Towers) throws -> CLIPModel {
        try checkThreads(threads)
        var options = checkpointOptions
        options.towers = towers
        do { return try CLIPModel.open(model, options: options, threads: threadCount) } catch let error as PclipError {
            throw CLIError("'\(model)': \(error)")  // the .pclip reader's messages do not name the file
        }
    }
}

enum CropRoundingOption: String, ExpressibleByArgument {
    case openclip, hf
    var rounding: CropRounding { self == .openclip ? .openCLIP : .huggingFace }
}

extension Activation: ExpressibleByArgument {}
