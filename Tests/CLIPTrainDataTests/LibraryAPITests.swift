// Everything the CLI does, done by a library user without it: open a model (a .pclip and a
// float checkpoint through one call), classify an image zero-shot, train a few steps on a
// folder of images with captions, export, open the export in the runtime, and evaluate both
// the model being trained and the exported one. Only public API of the libraries is used.

import CLIPConvert
import CLIPRuntime
import CLIPTokenizer
import CLIPTrain
import CLIPTrainData
import CorpusSupport
import Foundation
import XCTest

final class LibraryAPITests: XCTestCase {
    static let repository = URL(fileURLWithPath: fixtures).deletingLastPathComponent().deletingLastPathComponent().path
    static let classes = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]

    /// The bundled model names each of the ten example garments right (the README's first command).
    func testOpenAndClassifyTheBundledModel() throws {
        let model = try CLIPModel.open(Self.repository + "/models/pocketclip-fmnist.pclip", threads: 1)
        for name in Self.classes {
            let file = Self.repository + "/examples/images/" + name.replacingOccurrences(of: " ", with: "-") + ".png"
            let scores = try model.classify(imagePath: file, labels: Self.classes)
            XCTAssertEqual(scores.max { $0.probability < $1.probability }?.label, name, file)
        }
    }

    /// A float checkpoint opens through the same call and needs only the towers asked for.
    func testOpenACheckpointWithOneTower() throws {
        let model = try CLIPModel.open(fixture("tiny-hf"), options: CheckpointOptions(towers: .vision), threads: 1)
        XCTAssertNotNil(model.vision)
        XCTAssertNil(model.text)
        XCTAssertEqual(try model.embedImage(path: Self.repository + "/examples/images/bag.png").count, model.config.embedDim)
    }

    /// Train → export → open in the runtime → evaluate, on the shipped train-your-own example.
    func testTrainExportOpenAndEvaluate() throws {
        let tokenizer = try loadTokenizer(fixture("tokenizer", "bpe_simple_vocab_16e6.txt.gz"))
        var recipe = TrainRecipe(
            model: TrainConfig(imageSize: 32, patchSize: 8, vision: .init(width: 32, layers: 1, heads: 2),
                               vocabularySize: 49408, contextLength: 12, text: .init(width: 32, layers: 1, heads: 2),
                               embedDim: 16),
            steps: 12, batchSize: 8, learningRate: 3e-3, warmupSteps: 2)
        recipe.evalEvery = 6
        let tokenize = try captionTokenizer(tokenizer, contextLength: recipe.model.contextLength)
        let task = try TrainingTask.folder(captionsFile: Self.repository + "/examples/train-your-own/captions.tsv",
                                           imageSize: recipe.model.imageSize, tokenize: tokenize, evalImages: 30)
        let trainer = try Trainer(recipe: recipe, metricNames: task.metricNames)
        XCTAssertEqual(try trainer.run(sample: task.sample, evaluate: task.evaluate, logEvery: 6), .finished)
        XCTAssertEqual(trainer.step, recipe.steps)
        // A curve row at each evalEvery, each with the task's one metric, a top-1 fraction.
        let rows = trainer.history.filter { !$0.metrics.isEmpty }
        XCTAssertEqual(rows.map(\.step), [6, 12])
        for r in rows { XCTAssertTrue(r.loss.isFinite && (0...1).contains(r.metrics[0]), "\(r)") }

        let dir = try temporaryDirectory()
        try HFExport.write(trainer.model, directory: dir, tokenizerFiles: HFExport.tokenizerFiles(
            vocabulary: tokenizer.vocabulary, merges: tokenizer.mergeRules), mean: task.source.mean, std: task.source.std)
        let exported = try CLIPModel.open(dir, threads: 1)

        // The runtime's float path computes what the trainer's does, in another summation order:
        // each embedding is a chain of float32 dot products of length ≤ 4 × 32, whose relative
        // error is ~K·u ≈ 128 × 6e-8 < 1e-5 per layer, a few layers deep; 1e-4 in cosine is
        // far above that and far below what a wrong weight, layout or preprocessing gives.
        let folder = try FolderDataset(captionsFile: Self.repository + "/examples/train-your-own/captions.tsv",
                                       imageSize: recipe.model.imageSize)
        let images = (0..<4).flatMap { folder.image($0) }, captions = Array(folder.captions.prefix(4))
        let trained = TrainModelEmbedder(model: trainer.model, tokenize: tokenize), runtime = RuntimeEmbedder(model: exported)
        let pairs = Array(zip(try trained.embedImages(images, count: 4), try runtime.embedImages(images, count: 4)))
            + Array(zip(try trained.embedTexts(captions), try runtime.embedTexts(captions)))
        for (a, b) in pairs { XCTAssertGreaterThan(cosine(a, b), 1 - 1e-4) }
        let retrieval = try FolderRetrieval(folder, limit: 30).imageToText(runtime)
        XCTAssertTrue((0...1).contains(retrieval))
    }

    func cosine(_ a: [Float], _ b: [Float]) -> Float {
        let dot: Float = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let na: Float = a.reduce(0) { $0 + $1 * $1 }, nb: Float = b.reduce(0) { $0 + $1 * $1 }
        return dot / (na * nb).squareRoot()
    }
}
