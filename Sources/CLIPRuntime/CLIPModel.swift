// A runnable CLIP: the encoders plus the tokenizer and preprocessing that belong to them.
// This is the library entry point the CLI (and any other app) uses for embed and classify.

import CLIPImage
import CLIPKernels
import CLIPTokenizer

/// One label's zero-shot score.
public struct LabelScore: Sendable, Equatable {
    public let label: String
    public let probability: Float
    public let logit: Float
}

/// A CLIP model ready to embed images and texts and classify zero-shot.
///
/// ```swift
/// let model = try CLIPModel(config: c, weights: w, preprocess: p, tokenizer: t)
/// let scores = try model.classify(imagePath: "cat.png", labels: ["cat", "dog"])
/// print(scores[0].label, scores[0].probability)
/// ```
///
/// Thread safety: share one model between any number of threads. Everything it holds is
/// immutable after loading (weights, config, encoders); each call allocates its own activations
/// and scratch; the tokenizer's cache is behind a lock; and the worker pool takes one caller's
/// job at a time — a call that finds it busy runs its parts on its own thread instead. Results
/// are bit-for-bit the same as from one thread (Tests/CLIPRuntimeTests/ConcurrencyTests.swift,
/// run under ThreadSanitizer by tools/ci/tsan.sh). For throughput with several callers, load with
/// `threads: 1` and let each caller's thread do its own pass; see docs/concurrency.md.
public final class CLIPModel: Sendable {
    public let config: CLIPConfig
    public let preprocess: PreprocessConfig
    public let tokenizer: CLIPTokenizer?
    public let logitScale: Float
    public let vision: VisionEncoder?
    public let text: TextEncoder?
    /// Identifies the weights of a model loaded from a .pclip file (a CRC-32 over every
    /// tensor's CRC-32), so a class head built from one model is refused by another. Nil for
    /// models loaded straight from checkpoints.
    public let fingerprint: UInt32?

    /// The prompt of the CLIP paper's single-template zero-shot results.
    public static let defaultTemplate = "a photo of a {}."

    /// Threads each forward pass uses.
    public let pool: WorkerPool

    /// A float model from float weights (a checkpoint).
    public convenience init(config: CLIPConfig, weights: CLIPWeights, preprocess: PreprocessConfig, tokenizer: CLIPTokenizer?,
                            fingerprint: UInt32? = nil, threads: Int = 1) throws {
        try self.init(config: config, vision: try weights.vision.map { try VisionEncoder(config: config, weights: $0) },
                      text: try weights.text.map { try TextEncoder(config: config, weights: $0) },
                      logitScale: weights.logitScale, preprocess: preprocess, tokenizer: tokenizer,
                      fingerprint: fingerprint, threads: threads)
    }

    init(config: CLIPConfig, vision: VisionEncoder?, text: TextEncoder?, logitScale: Float, preprocess: PreprocessConfig,
         tokenizer: CLIPTokenizer?, fingerprint: UInt32?, threads: Int) throws {
        try config.validate()
        guard preprocess.size == config.vision.imageSize else {
            throw ModelError.invalidConfig("preprocessing makes \(preprocess.size)px images but the vision tower takes \(config.vision.imageSize)px")
        }
        self.config = config
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.logitScale = logitScale
        self.vision = vision
        self.text = text
        self.fingerprint = fingerprint
        self.pool = WorkerPool(threads: threads)
    }

    /// Bytes of weights held by the loaded towers (int8 stays int8).
    public var weightBytes: Int { (vision?.weightBytes ?? 0) + (text?.weightBytes ?? 0) }

    private func visionEncoder() throws -> VisionEncoder {
        guard let vision else { throw ModelError.invalidInput("this model was loaded without its vision tower") }
        return vision
    }

    private func textEncoder() throws -> (TextEncoder, CLIPTokenizer) {
        guard let text else { throw ModelError.invalidInput("this model was loaded without its text tower") }
        guard let tokenizer else {
            throw ModelError.invalidInput("the checkpoint has no tokenizer vocabulary; pass one (bpe_simple_vocab_16e6.txt.gz or an HF directory with vocab.json and merges.txt)")
        }
        return (text, tokenizer)
    }

    /// Image file → embedding [embedDim] (not normalized).
    public func embedImage(path: String) throws -> [Float] {
        try embedImages(paths: [path])[0]
    }

    /// Image files → embeddings, run as one batch through the vision tower.
    public func embedImages(paths: [String]) throws -> [[Float]] {
        let encoder = try visionEncoder()
        let batch = try paths.map { path -> [Float] in
            // Any decoding or preprocessing failure names the image.
            do { return try Preprocessor.pixels(path: path, config: preprocess) } catch {
                throw ModelError.badImage(path: path, reason: "\(error)")
            }
        }
        return try encoder.encode(batch: batch, pool: pool)
    }

    /// Text → embedding [embedDim] (not normalized). Text past the model's context length is an
    /// error naming the text, unless `truncate` is set (then open_clip's truncation applies, to
    /// this model's context: 77 for released CLIPs, 20 for the bundled model).
    public func embedText(_ text: String, truncate: Bool = false) throws -> [Float] {
        let (encoder, tokenizer) = try textEncoder()
        let context = config.text.contextLength
        do {
            return try encoder.encode(tokens: try tokenizer.tokenize(text, truncate: truncate, context: context), pool: pool)
        } catch let TokenizerError.tooLong(tokens, _) {
            let shown = text.count > 60 ? text.prefix(57) + "..." : Substring(text)
            throw ModelError.invalidInput("the text '\(shown)' is \(tokens) tokens with its start and end markers, more than this model's context of \(context); shorten it or truncate it (--truncate)")
        }
    }

    /// Builds the prompts for `labels` from `template` ("{}" stands for the label) after checking both.
    public static func prompts(labels: [String], template: String) throws -> [String] {
        guard !labels.isEmpty else { throw ModelError.invalidInput("the label list is empty; give at least one label") }
        guard labels.count <= PromptTemplates.maxLabels else {
            throw ModelError.invalidInput("\(labels.count) labels (limit \(PromptTemplates.maxLabels))")
        }
        var seen = Set<String>()
        for label in labels {
            guard !label.allSatisfy(\.isWhitespace) else { throw ModelError.invalidInput("a label is empty") }
            guard seen.insert(label).inserted else { throw ModelError.invalidInput("label '\(label)' is given twice") }
        }
        let pieces = template.split(separator: "{}", omittingEmptySubsequences: false)
        guard pieces.count == 2 else {
            throw ModelError.invalidInput("the template '\(template)' must contain '{}' exactly once, where the label goes")
        }
        return labels.map { pieces[0] + $0 + pieces[1] }
    }

    /// One embedding per label: the label put into `template`, tokenized and encoded.
    public func classEmbeddings(labels: [String], template: String = defaultTemplate,
                                truncate: Bool = false) throws -> [[Float]] {
        try classEmbeddings(labels: labels, templates: [template], truncate: truncate)
    }

    /// One embedding per label, ensembled over `templates` as in the CLIP paper: each prompt's
    /// embedding normalized, averaged per label, renormalized. One template gives its
    /// normalized embedding.
    public func classEmbeddings(labels: [String], templates: [String], truncate: Bool = false) throws -> [[Float]] {
        guard !templates.isEmpty else { throw ModelError.invalidInput("no prompt template given") }
        let perTemplate = try templates.map { try Self.prompts(labels: labels, template: $0) }
        return try labels.indices.map { i in
            ZeroShot.ensemble(try perTemplate.map { try embedText($0[i], truncate: truncate) })
        }
    }

    /// Zero-shot scores of an image embedding against class embeddings, best first.
    public func scores(image: [Float], classes: [[Float]], labels: [String]) -> [LabelScore] {
        precondition(classes.count == labels.count, "one class embedding per label")
        let logits = ZeroShot.logits(image: image, classes: classes, logitScale: logitScale)
        let probabilities = ZeroShot.softmax(logits)
        return zip(labels, zip(probabilities, logits))
            .map { LabelScore(label: $0, probability: $1.0, logit: $1.1) }
            .sorted { $0.probability > $1.probability }
    }

    /// Zero-shot classification of one image over `labels`, best first.
    public func classify(imagePath: String, labels: [String], templates: [String] = [defaultTemplate],
                         truncate: Bool = false) throws -> [LabelScore] {
        let classes = try classEmbeddings(labels: labels, templates: templates, truncate: truncate)
        return scores(image: try embedImage(path: imagePath), classes: classes, labels: labels)
    }
}
