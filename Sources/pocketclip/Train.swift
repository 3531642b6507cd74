#if Training  // the train/eval commands: left out of a board build (Package.swift traits, docs/board.md)
// `pocketclip train`: a float CLIP trained by CLIPTrain on Fashion-MNIST captions (the default
// model's data) with progress, periodic evaluation, checkpoints and --resume, a curve as CSV and
// SVG, and a checkpoint directory `pocketclip convert` takes like any real one.

import ArgumentParser
import CLIPKernels
import CLIPRuntime
import CLIPSupport
import CLIPTokenizer
import CLIPTrain
import CLIPTrainData

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small float CLIP model from image–caption pairs.",
        discussion: """
            Without --config the recipe is the default model's (ViT width 128, patch 8, 4 layers on \
            32×32 images; text width 128, 2 layers, context 20; embedding 128; batch 256; 6000 \
            steps, lr 1e-3 with 250 warm-up steps and cosine decay). Change any of it with a JSON \
            config ({"steps": 2000, "batch_size": 128}) or --set key=value. Keys: \
            \(TrainRecipe.keys.joined(separator: ", ")).

            Data: Fashion-MNIST from the Debian package dataset-fashion-mnist \
            (/usr/share/datasets/fashion-mnist, .gz files read as they are), rendered with seeded \
            tints, positions, scales and flips and captioned in words; 16 tint–class pairs are \
            held out from training (docs/training.md).

            OUT receives checkpoint.ckpt (every checkpoint_every steps, at the end, and on \
            Ctrl-C), curve.csv and curve.svg (loss and evaluation accuracy), and model/ (an HF \
            CLIPModel directory with tokenizer files: `pocketclip convert OUT/model -o m.pclip`). The same \
            seed gives the same run; --resume continues a stopped run exactly.

            Examples:
              pocketclip train -o runs/fmnist --tokenizer bpe_simple_vocab_16e6.txt.gz
              pocketclip train -o runs/quick --tokenizer bpe_simple_vocab_16e6.txt.gz --set steps=200
              pocketclip train -o runs/fmnist --tokenizer bpe_simple_vocab_16e6.txt.gz --resume
              pocketclip train -o runs/shapes --tokenizer bpe_simple_vocab_16e6.txt.gz \\
                --captions examples/train-your-own/captions.tsv --set image_size=64 --set steps=300
            """)

    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Output directory (created if missing).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("Tokenizer vocabulary: bpe_simple_vocab_16e6.txt.gz or an HF directory (vocab.json + merges.txt).",
                               valueName: "path"))
    var tokenizer: String

    @Option(help: ArgumentHelp("A JSON object of recipe keys (see above).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one recipe key (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Flag(help: "Continue the run saved in OUT/checkpoint.ckpt.")
    var resume = false

    @Flag(help: "Write OUT/model, curve.csv and curve.svg from OUT/checkpoint.ckpt as it is (e.g. mid-run), without training.")
    var exportOnly = false

    @Option(help: ArgumentHelp("Directory with the Fashion-MNIST IDX files (gzipped or not).", valueName: "dir"))
    var fashionMnist = "/usr/share/datasets/fashion-mnist"

    @Option(help: ArgumentHelp("""
        Train on your own pairs instead: a captions file (.tsv: image<TAB>caption per line; .jsonl: \
        {"image": ..., "caption": ...}), image paths relative to it. Bad rows are reported and skipped.
        """, valueName: "file"))
    var captions: String?

    @Option(help: ArgumentHelp("Images used for the evaluation points of the curve.", valueName: "n"))
    var evalImages = 1000

    @Option(help: ArgumentHelp("Threads (default: the cores this process may use).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Print progress every this many steps.", valueName: "n"))
    var logEvery = 25

    func validate() throws {
        try checkThreads(threads)
        guard evalImages >= 10, evalImages <= 10_000 else { throw ValidationError("--eval-images must be in 10...10000") }
        guard logEvery >= 1 else { throw ValidationError("--log-every must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let threadCount = threads ?? WorkerPool.availableCores
            setBLASThreads(threadCount)
            try makeDirectory(out)
            let checkpointPath = out + "/checkpoint.ckpt"
            try checkWritable(checkpointPath)  // a read-only OUT fails now, not at the first checkpoint
            let requested = try requestedRecipe()

            let trainer: Trainer
            if exportOnly {
                // As in training: SIGINT/SIGTERM let the export finish (it is a staging directory
                // renamed into place; killed, it left the hidden staging directory behind), then exit 130.
                StopSignal.install()
                let t = try Trainer(resumingFrom: checkpointPath)
                let tok = try loadTokenizer(tokenizer)
                try writeCurve(t, directory: out)
                try HFExport.write(t.model, directory: out + "/model",
                                   tokenizerFiles: HFExport.tokenizerFiles(vocabulary: tok.vocabulary, merges: tok.mergeRules),
                                   mean: CaptionGenerator.clipMean, std: CaptionGenerator.clipStd)
                say("exported step \(t.step)/\(t.recipe.steps) to \(out)/model")
                if StopSignal.requested {
                    say("interrupted: the export above finished first")
                    throw ExitCode(130)
                }
                return
            }
            if resume {
                trainer = try Trainer(resumingFrom: checkpointPath)
                if requested != nil && requested != trainer.recipe {
                    throw CLIError("the checkpoint was trained with another recipe; drop --config/--set to resume it, or train into a new --out")
                }
                say("resuming at step \(trainer.step)/\(trainer.recipe.steps) from \(checkpointPath)")
            } else {
                if access(checkpointPath, F_OK) == 0 {
                    throw CLIError("\(checkpointPath) exists: pass --resume to continue that run, or choose another --out")
                }
                trainer = try Trainer(recipe: requested ?? .fashionMNIST, metricNames: FashionMNISTEval.metricNames)
            }
            trainer.optimizer.threads = threadCount
            let recipe = trainer.recipe

            let tok = try loadTokenizer(tokenizer)
            let tokenize = try captionTokenizer(tok, contextLength: recipe.model.contextLength)
            let task: TrainingTask
            if let captions {
                task = try TrainingTask.folder(captionsFile: captions, imageSize: recipe.model.imageSize, tokenize: tokenize,
                                               evalImages: evalImages)
                say(task.summary)
                if trainer.metricNames != task.metricNames {
                    guard trainer.step == 0 else { throw CLIError("this checkpoint was trained on Fashion-MNIST; resume it without --captions") }
                    trainer.metricNames = task.metricNames
                }
            } else {
                task = try TrainingTask.fashionMNIST(directory: fashionMnist, imageSize: recipe.model.imageSize, tokenize: tokenize,
                                                     evalImages: evalImages)
                say(task.summary)
            }
            let source = task.source
            guard source.imageSize == recipe.model.imageSize else {
                throw CLIError("the data gives \(source.imageSize)-pixel images, the recipe's image_size is \(recipe.model.imageSize)")
            }

            say("training \(trainer.model.layout.count) parameters: \(describe(recipe)); \(threadCount) thread(s)")
            StopSignal.install()
            let outcome = try trainer.run(
                sample: task.sample, evaluate: task.evaluate,
                checkpointPath: checkpointPath, logEvery: logEvery,
                progress: { p in say(progressLine(p, trainer: trainer)) },
                shouldStop: { StopSignal.requested },
                afterCheckpoint: { try writeCurve(trainer, directory: out) })
            try HFExport.write(trainer.model, directory: out + "/model",
                               tokenizerFiles: HFExport.tokenizerFiles(vocabulary: tok.vocabulary, merges: tok.mergeRules),
                               mean: source.mean, std: source.std)
            switch outcome {
            case .finished:
                say("done: \(recipe.steps) steps in \(duration(trainer.priorSeconds)) of training; model in \(out)/model (pocketclip convert \(out)/model -o model.pclip)")
            case .stopped:
                say("stopped at step \(trainer.step)/\(recipe.steps) and saved; continue with --resume")
                throw ExitCode(130)
            }
        }
    }

    /// The recipe asked for by --config and --set (nil when neither is given).
    func requestedRecipe() throws -> TrainRecipe? {
        guard config != nil || !overrides.isEmpty else { return nil }
        var fields: [(String, String)] = []
        if let config {
            guard let bytes = readUntilEnd(config, limit: (1 << 20) + 1) else {
                throw CLIError("cannot open \(config): \(String(cString: strerror(errno)))")
            }
            guard bytes.count <= 1 << 20 else { throw CLIError("\(config) is larger than 1 MB; a recipe is a few lines") }
            guard let members = try parseJSON(bytes).members else {
                throw CLIError("\(config) must hold a JSON object of recipe keys")
            }
            for (key, value) in members {
                switch value {
                case .number(let n): fields.append((key, n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)))
                case .string(let s): fields.append((key, s))
                default: throw CLIError("\(config): '\(key)' must be a number or a string")
                }
            }
        }
        for o in overrides {
            guard let eq = o.firstIndex(of: "=") else { throw ValidationError("--set takes key=value, found '\(o)'") }
            fields.append((String(o[..<eq]), String(o[o.index(after: eq)...])))
        }
        return try TrainRecipe(fields: fields)
    }
}

/// SIGINT / SIGTERM ask a long run to stop after its current step (and save).
enum StopSignal {
    nonisolated(unsafe) static var flag: sig_atomic_t = 0
    static var requested: Bool { flag != 0 }
    static func install() {
        signal(SIGINT) { _ in StopSignal.flag = 1 }
        signal(SIGTERM) { _ in StopSignal.flag = 1 }
    }
}

private func describe(_ r: TrainRecipe) -> String {
    let m = r.model
    return "ViT \(m.imageSize)px/\(m.patchSize) width \(m.vision.width)×\(m.vision.layers), text width \(m.text.width)×\(m.text.layers) ctx \(m.contextLength), embed \(m.embedDim); batch \(r.batchSize), \(r.steps) steps, lr \(r.learningRate), seed \(r.seed)"
}

private func progressLine(_ p: TrainingProgress, trainer: Trainer) -> String {
    var s = "step \(p.step)/\(p.totalSteps)  loss \(decimal(Double(p.loss), 4))  lr \(decimal(Double(p.learningRate) * 1e4, 2))e-4  "
        + "\(Int(p.imagesPerSecond)) img/s  elapsed \(duration(p.elapsedSeconds))  eta \(duration(p.etaSeconds))"
    if let row = trainer.history.last, row.step == p.step, !row.metrics.isEmpty {
        for (name, v) in zip(trainer.metricNames, row.metrics) { s += "  \(name) \(decimal(v * 100, 1))%" }
    }
    return s
}

private func writeCurve(_ trainer: Trainer, directory dir: String) throws {
    try AtomicFileWriter.write(Array(trainer.curveCSV().utf8), to: dir + "/curve.csv")
    try AtomicFileWriter.write(Array(trainer.curveSVG(title: "PocketCLIP training: loss and zero-shot accuracy").utf8), to: dir + "/curve.svg")
}

#endif
