// The training loop: a recipe (architecture + optimization), seeded data draws, AdamW with
// open_clip's warm-up + cosine schedule, periodic evaluation, and checkpoints that resume to
// exactly the run that was interrupted (parameters, both Adam moments, the step, the data
// generator's state and the history so far).
//
// The loop knows nothing about where batches come from: the caller passes a `sample` closure
// (Fashion-MNIST captions, a folder of image–caption pairs, …) already tokenized, and an
// `evaluate` closure giving named metrics. That keeps this module free of the tokenizer and of
// image decoding (the import arrows of docs/architecture.md).

import CLIPSupport

/// Everything that decides a training run's result: the architecture and the optimization.
/// Threads are not part of it (they change speed, not the numbers).
public struct TrainRecipe: Sendable, Equatable {
    public var model: TrainConfig
    public var steps: Int
    public var batchSize: Int
    public var learningRate: Float
    public var warmupSteps: Int
    public var weightDecay: Float
    /// Seeds the initialization (seed) and the data draws (seed + 1).
    public var seed: UInt64
    /// Evaluate (and add a row to the curve) every this many steps.
    public var evalEvery: Int
    public var checkpointEvery: Int

    public init(model: TrainConfig, steps: Int, batchSize: Int, learningRate: Float, warmupSteps: Int,
                weightDecay: Float = 0.2, seed: UInt64 = 1, evalEvery: Int = 250, checkpointEvery: Int = 500) {
        self.model = model; self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate
        self.warmupSteps = warmupSteps; self.weightDecay = weightDecay; self.seed = seed
        self.evalEvery = evalEvery; self.checkpointEvery = checkpointEvery
    }

    /// The recipe of the project's default model (Fashion-MNIST captions on a 32×32 canvas).
    public static let fashionMNIST = TrainRecipe(
        model: TrainConfig(imageSize: 32, patchSize: 8, vision: .init(width: 128, layers: 4, heads: 2),
                           vocabularySize: 49408, contextLength: 20, text: .init(width: 128, layers: 2, heads: 2),
                           embedDim: 128, activation: .quickGELU),
        steps: 6000, batchSize: 256, learningRate: 1e-3, warmupSteps: 250, evalEvery: 500, checkpointEvery: 500)

    /// The recipe as `key = value` fields: the config-file keys, and what a checkpoint stores.
    public var fields: [(String, String)] {
        let m = model
        return [("image_size", "\(m.imageSize)"), ("patch_size", "\(m.patchSize)"),
                ("vision_width", "\(m.vision.width)"), ("vision_layers", "\(m.vision.layers)"),
                ("vision_heads", "\(m.vision.heads)"), ("text_width", "\(m.text.width)"),
                ("text_layers", "\(m.text.layers)"), ("text_heads", "\(m.text.heads)"),
                ("context_length", "\(m.contextLength)"), ("vocab_size", "\(m.vocabularySize)"),
                ("embed_dim", "\(m.embedDim)"), ("activation", m.activation == .quickGELU ? "quick_gelu" : "gelu"),
                ("steps", "\(steps)"), ("batch_size", "\(batchSize)"), ("learning_rate", "\(learningRate)"),
                ("warmup_steps", "\(warmupSteps)"), ("weight_decay", "\(weightDecay)"), ("seed", "\(seed)"),
                ("eval_every", "\(evalEvery)"), ("checkpoint_every", "\(checkpointEvery)")]
    }

    /// The keys `fields` uses (and a config file may set).
    public static var keys: [String] { fashionMNIST.fields.map(\.0) }

    /// `base` with the given fields replaced; unknown keys and unparsable values throw.
    public init(fields: [(String, String)], base: TrainRecipe = .fashionMNIST) throws {
        self = base
        for (key, value) in fields {
            func int() throws -> Int {
                guard let v = Int(value) else { throw TrainError.invalidConfig("'\(key)' must be an integer, found '\(value)'") }
                return v
            }
            func float() throws -> Float {
                guard let v = Float(value), v.isFinite else { throw TrainError.invalidConfig("'\(key)' must be a number, found '\(value)'") }
                return v
            }
            switch key {
            case "image_size": model.imageSize = try int()
            case "patch_size": model.patchSize = try int()
            case "vision_width": model.vision = .init(width: try int(), layers: model.vision.layers, heads: model.vision.heads)
            case "vision_layers": model.vision.layers = try int()
            case "vision_heads": model.vision.heads = try int()
            case "text_width": model.text = .init(width: try int(), layers: model.text.layers, heads: model.text.heads)
            case "text_layers": model.text.layers = try int()
            case "text_heads": model.text.heads = try int()
            case "context_length": model.contextLength = try int()
            case "vocab_size": model.vocabularySize = try int()
            case "embed_dim": model.embedDim = try int()
            case "activation":
                switch value {
                case "quick_gelu": model.activation = .quickGELU
                case "gelu": model.activation = .gelu
                default: throw TrainError.invalidConfig("'activation' must be quick_gelu or gelu, found '\(value)'")
                }
            case "steps": steps = try int()
            case "batch_size": batchSize = try int()
            case "learning_rate": learningRate = try float()
            case "warmup_steps": warmupSteps = try int()
            case "weight_decay": weightDecay = try float()
            case "seed":
                guard let v = UInt64(value) else { throw TrainError.invalidConfig("'seed' must be a non-negative integer, found '\(value)'") }
                seed = v
            case "eval_every": evalEvery = try int()
            case "checkpoint_every": checkpointEvery = try int()
            default:
                throw TrainError.invalidConfig("unknown recipe key '\(key)'; known keys: \(Self.keys.joined(separator: ", "))")
            }
        }
        try validate()
    }

    public func validate() throws {
        try model.validate()
        guard steps >= 1, steps <= 10_000_000 else { throw TrainError.invalidConfig("steps must be in 1...10000000, found \(steps)") }
        guard batchSize >= 2, batchSize <= 65_536 else {
            throw TrainError.invalidConfig("batch_size must be in 2...65536 (a contrastive loss needs negatives), found \(batchSize)")
        }
        guard learningRate > 0, learningRate < 1 else { throw TrainError.invalidConfig("learning_rate must be in (0, 1), found \(learningRate)") }
        guard warmupSteps >= 0, weightDecay >= 0 else { throw TrainError.invalidConfig("warmup_steps and weight_decay must not be negative") }
        guard evalEvery >= 1, checkpointEvery >= 1 else { throw TrainError.invalidConfig("eval_every and checkpoint_every must be at least 1") }
    }
}

/// One row of the training curve: the mean loss since the previous row, and the metrics when
/// the row is an evaluation point.
public struct HistoryRow: Sendable, Equatable {
    public var step: Int
    public var loss: Float
    public var learningRate: Float
    public var imagesPerSecond: Float
    /// Values of `Trainer.metricNames`, in that order (empty when not evaluated at this step).
    public var metrics: [Double]
}

/// What the progress callback sees after each logged step.
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var loss: Float
    public var learningRate: Float
    public var imagesPerSecond: Double
    public var elapsedSeconds: Double
    public var etaSeconds: Double
}

/// A training run over a `CLIPTrainModel`.
///
///     let trainer = try Trainer(recipe: .fashionMNIST)
///     try trainer.run(sample: { n, rng in try source.batch(n, &rng) }, checkpointPath: "out/run.ckpt")
public final class Trainer {
    public let recipe: TrainRecipe
    public let model: CLIPTrainModel
    public let optimizer: AdamW
    /// Steps completed.
    public internal(set) var step = 0
    /// The data generator (seeded with recipe.seed + 1; saved in checkpoints).
    public var rng: SeededNormal
    public internal(set) var history: [HistoryRow] = []
    /// Names of the evaluation metrics, fixed for a run (the curve's columns).
    public var metricNames: [String]
    /// Seconds spent training before this process (from the checkpoint), for the total time.
    public internal(set) var priorSeconds: Double = 0

    public init(recipe: TrainRecipe, metricNames: [String] = []) throws {
        try recipe.validate()
        self.recipe = recipe
        model = try CLIPTrainModel(config: recipe.model, seed: recipe.seed)
        optimizer = AdamW(model: model, weightDecay: recipe.weightDecay)
        rng = SeededNormal(seed: recipe.seed &+ 1)
        self.metricNames = metricNames
    }

    /// The learning rate of step `s` (0-based).
    public func learningRate(at s: Int) -> Float {
        cosineLearningRate(step: s, baseLR: recipe.learningRate, warmup: recipe.warmupSteps, totalSteps: recipe.steps)
    }

    /// How a run ended.
    public enum Outcome: Equatable { case finished, stopped }

    /// Trains from `step` to `recipe.steps` (or `stopAfter` steps in total, for tests), logging a
    /// row every `logEvery` steps, evaluating every `recipe.evalEvery`, checkpointing every
    /// `recipe.checkpointEvery` and at the end (and when `shouldStop` turns true: the run then
    /// stops after the current step, saved, with outcome `.stopped`).
    /// - Parameters:
    ///   - sample: a batch of `n` normalized images [n, 3, S, S] and their token rows [n, L],
    ///     drawn with the given generator (so a resumed run draws the same batches).
    ///   - evaluate: the metrics named `metricNames`, in order.
    @discardableResult
    public func run(sample: (Int, inout SeededNormal) throws -> (images: [Float], tokens: [Int32]),
                    evaluate: ((CLIPTrainModel) throws -> [Double])? = nil,
                    checkpointPath: String? = nil, logEvery: Int = 25, stopAfter: Int? = nil,
                    progress: (TrainingProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false },
                    afterCheckpoint: () throws -> Void = {}) throws -> Outcome {
        let last = min(recipe.steps, stopAfter ?? recipe.steps)
        let start = monotonicSeconds()
        var windowLoss: Double = 0, windowSteps = 0, windowStart = start
        var stepsThisProcess = 0
        while step < last {
            let (images, tokens) = try sample(recipe.batchSize, &rng)
            let lr = learningRate(at: step)
            let loss = try model.lossAndGradients(images: images, tokens: tokens, batchSize: recipe.batchSize)
            guard loss.isFinite else {
                throw TrainError.invalidBatch("the loss became \(loss) at step \(step + 1); lower learning_rate (now \(recipe.learningRate)) or check the data")
            }
            optimizer.step(model, lr: lr)
            step += 1; stepsThisProcess += 1
            windowLoss += Double(loss); windowSteps += 1

            let evalNow = step % recipe.evalEvery == 0 || step == recipe.steps
            let stopping = shouldStop()
            if step % logEvery == 0 || evalNow || step == last || stopping {
                let t = monotonicSeconds()
                let ips = Double(windowSteps * recipe.batchSize) / max(t - windowStart, 1e-9)
                var row = HistoryRow(step: step, loss: Float(windowLoss / Double(windowSteps)), learningRate: lr,
                                     imagesPerSecond: Float(ips), metrics: [])
                if evalNow, let evaluate {
                    row.metrics = try evaluate(model)
                    guard row.metrics.count == metricNames.count else {
                        throw TrainError.invalidConfig("evaluate gave \(row.metrics.count) metrics for \(metricNames.count) names")
                    }
                }
                history.append(row)
                let elapsed = t - start
                let perStep = elapsed / Double(stepsThisProcess)
                progress(TrainingProgress(step: step, totalSteps: recipe.steps, loss: row.loss, learningRate: lr,
                                          imagesPerSecond: ips, elapsedSeconds: priorSeconds + elapsed,
                                          etaSeconds: perStep * Double(recipe.steps - step)))
                windowLoss = 0; windowSteps = 0; windowStart = monotonicSeconds()
            }
            if let checkpointPath, step % recipe.checkpointEvery == 0 || step == last || stopping {
                try saveCheckpoint(to: checkpointPath, elapsedSeconds: priorSeconds + monotonicSeconds() - start)
                try afterCheckpoint()
            }
            if stopping && step < last { priorSeconds += monotonicSeconds() - start; return .stopped }
        }
        priorSeconds += monotonicSeconds() - start
        return step >= recipe.steps ? .finished : .stopped
    }
}
