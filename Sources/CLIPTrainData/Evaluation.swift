// Zero-shot evaluation on Fashion-MNIST, shared by the training curve (the float model being
// trained, through CLIPTrain) and `pocketclip eval` (a float checkpoint and its .pclip, through
// the runtime): the same images, prompts and scoring whichever model answers.
//
//   zero-shot  10 classes, plain test images (untinted, large, centred, not mirrored), each class
//              an ensemble of its prompts ("a photo of a sneaker.", "sneaker", …; no colour)
//   held-out   test images rendered in the 16 held-out tint–class pairs (never in a training
//              caption); the classes are the 10 garments named in the image's tint ("a photo
//              of a green t-shirt.", "a photo of a green trouser.", …): the right answer is a
//              colour–garment phrase the model has never been trained on, the others mostly ones
//              it has. (16 classes of held-out pairs only would be too easy: the tint alone
//              leaves two candidates.) Also reported: the same images against the 10 plain
//              garment prompts (does the image side recognise a garment in a colour it never
//              saw it in?), and against all 80 pairs (the strictest reading).

import CLIPRuntime
import CLIPTrain

/// Something that embeds rendered images and prompts (embeddings need not be normalized).
public protocol EvalEmbedder {
    /// images: [count, 3, S, S] normalized pixels.
    func embedImages(_ images: [Float], count: Int) throws -> [[Float]]
    func embedTexts(_ prompts: [String]) throws -> [[Float]]
}

/// The model being trained.
public struct TrainModelEmbedder: EvalEmbedder {
    public let model: CLIPTrainModel
    public let tokenize: (String) throws -> [Int32]

    public init(model: CLIPTrainModel, tokenize: @escaping (String) throws -> [Int32]) {
        self.model = model
        self.tokenize = tokenize
    }

    public func embedImages(_ images: [Float], count: Int) throws -> [[Float]] {
        rows(try model.imageEmbeddings(images: images, count: count), width: model.config.embedDim)
    }

    public func embedTexts(_ prompts: [String]) throws -> [[Float]] {
        let tokens = try prompts.flatMap { try tokenize($0) }
        return rows(try model.textEmbeddings(tokens: tokens, count: prompts.count), width: model.config.embedDim)
    }
}

/// A runtime model (float checkpoint or .pclip).
public struct RuntimeEmbedder: EvalEmbedder {
    public let model: CLIPModel
    public let chunk = 64

    public init(model: CLIPModel) { self.model = model }

    public func embedImages(_ images: [Float], count: Int) throws -> [[Float]] {
        guard let vision = model.vision else { throw TrainingDataError.invalid("the model has no vision tower") }
        let per = images.count / max(count, 1)
        var out: [[Float]] = []
        var start = 0
        while start < count {
            let n = min(chunk, count - start)
            let batch = (start..<(start + n)).map { Array(images[($0 * per)..<(($0 + 1) * per)]) }
            out += try vision.encode(batch: batch, pool: model.pool)
            start += n
        }
        return out
    }

    public func embedTexts(_ prompts: [String]) throws -> [[Float]] {
        try prompts.map { try model.embedText($0) }
    }
}

public func rows(_ flat: [Float], width: Int) -> [[Float]] {
    stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<($0 + width)]) }
}

/// The evaluation sets and their prompts.
public struct FashionMNISTEval {
    public static let metricNames = ["zero-shot", "held-out"]

    public let plain: [Float]
    public let plainLabels: [Int]
    public let heldOut: CaptionBatch
    /// Index of each held-out image's pair in `CaptionGenerator.heldOutPairs`.
    public let heldOutLabels: [Int]
    /// The control for the held-out reading: the same source images with the same placement,
    /// scale and mirroring, each in a tint its class WAS trained with (`controlTint`). Held-out
    /// minus control is what an unseen tint–class combination costs, apart from how hard small
    /// or off-centre garments are.
    public let seenControl: (images: [Float], attributes: [CaptionAttributes])
    public let classPrompts: [[String]]
    /// Prompts of all 80 tint–class pairs (for the harder held-out reading: all 80 as classes).
    public let allPairPrompts: [[String]]
    public let allPairs: [TintClassPair]

    /// Where the plain and held-out images come from: the test split, or the last 10,000
    /// training images (a validation set for choosing evaluation settings such as the prompt
    /// names without looking at the test split).
    public enum Split: String { case test, validation }

    /// plainCount images (the first ones of the split), heldOutPerPair per held-out pair; the
    /// class prompts use each class's first name, or all its names (`allNames`).
    public init(data: FashionMNISTData, generator: CaptionGenerator, plainCount: Int, heldOutPerPair: Int,
         split: Split = .test, allNames: Bool = false) throws {
        let validationStart = max(0, data.train.images.count - 10_000)
        let test: (images: IDXImages, labels: [UInt8])
        switch split {
        case .test: test = data.test
        case .validation:
            test = (data.train.images.dropFirst(validationStart), Array(data.train.labels[validationStart...]))
        }
        let n = min(plainCount, test.images.count)
        plain = renderPlain(generator, test.images, test.labels, count: n)
        plainLabels = test.labels[0..<n].map(Int.init)
        heldOut = try generator.heldOutEvaluationSet(images: test.images, labels: test.labels, perPair: heldOutPerPair, seed: 7)
        let pairs = CaptionGenerator.heldOutPairs
        heldOutLabels = heldOut.attributes.map { a in pairs.firstIndex { $0.tint == a.tint && $0.classIndex == a.classIndex }! }
        var control: (images: [Float], attributes: [CaptionAttributes]) = ([], [])
        for (a, i) in zip(heldOut.attributes, heldOut.sourceIndices) {
            var c = a
            c.tint = Self.controlTint(classIndex: a.classIndex, heldOut: a.tint)
            control.images += generator.normalize(generator.renderRGB(gray: test.images.image(i), rows: test.images.rows,
                                                                      columns: test.images.columns, attributes: c))
            control.attributes.append(c)
        }
        seenControl = control
        classPrompts = CaptionGenerator.classNames.indices.map { generator.prompts(classIndex: $0, tint: nil, allNames: allNames) }
        allPairs = Tint.allCases.flatMap { t in CaptionGenerator.classNames.indices.map { TintClassPair(tint: t, classIndex: $0) } }
        allPairPrompts = allPairs.map { generator.prompts(classIndex: $0.classIndex, tint: $0.tint, allNames: allNames) }
    }

    /// Every reading from one pass: accuracies, and every case's predicted class (plain images
    /// among 10 classes, held-out images among their tint's 10, held-out images among all 80) so
    /// two models can be compared case by case.
    public struct Outcome {
        public var zeroShot: Double, heldOut: Double, heldOutGarment: Double, heldOutAll: Double
        /// The held-out reading on `seenControl` (not part of `predictions`).
        public var seenControl: Double
        public var predictions: [Int]
    }

    /// The first tint after `heldOut` (in `Tint` order, wrapping) that is trained with the class.
    public static func controlTint(classIndex: Int, heldOut: Tint) -> Tint {
        let all = Tint.allCases
        for step in 1..<all.count {
            let t = all[(heldOut.rawValue + step) % all.count]
            if !CaptionGenerator.isHeldOut(tint: t, classIndex: classIndex) { return t }
        }
        return heldOut  // unreachable: every class keeps at least six trained tints
    }

    /// Top-1 among the 10 garments in each image's own tint, from [image][pair] scores.
    public func ownTintPredictions(_ scores: [[Float]], _ attributes: [CaptionAttributes]) -> [Int] {
        attributes.enumerated().map { i, a in
            let candidates = allPairs.indices.filter { allPairs[$0].tint == a.tint }
            return allPairs[candidates.max { scores[i][$0] < scores[i][$1] }!].classIndex
        }
    }

    public func evaluate(_ e: EvalEmbedder) throws -> Outcome {
        let plainPredicted = try predict(e, images: plain, count: plainLabels.count, prompts: classPrompts)
        let scores = try similarity(e, images: heldOut.images, count: heldOut.count, prompts: allPairPrompts)
        let ownTint = ownTintPredictions(scores, heldOut.attributes)
        var among80: [Int] = [], truthOwn: [Int] = [], truth80: [Int] = []
        for (i, a) in heldOut.attributes.enumerated() {
            truthOwn.append(a.classIndex)
            among80.append(scores[i].indices.max { scores[i][$0] < scores[i][$1] }!)
            truth80.append(allPairs.firstIndex { $0.tint == a.tint && $0.classIndex == a.classIndex }!)
        }
        let garment = try predict(e, images: heldOut.images, count: heldOut.count, prompts: classPrompts)
        let controlScores = try similarity(e, images: seenControl.images, count: seenControl.attributes.count, prompts: allPairPrompts)
        let control = ownTintPredictions(controlScores, seenControl.attributes)
        return Outcome(zeroShot: accuracy(plainPredicted, plainLabels), heldOut: accuracy(ownTint, truthOwn),
                       heldOutGarment: accuracy(garment, truthOwn), heldOutAll: accuracy(among80, truth80),
                       seenControl: accuracy(control, truthOwn),
                       predictions: plainPredicted + ownTint + garment + among80)
    }

    /// The curve's metrics: zero-shot and held-out top-1 (fractions).
    public func metrics(_ e: EvalEmbedder) throws -> [Double] {
        let o = try evaluate(e)
        return [o.zeroShot, o.heldOut]
    }

    /// A linear probe fitted on the features of the first `trainImages` plain training images;
    /// its top-1 on this suite's plain test images.
    public func linearProbe(_ e: EvalEmbedder, generator: CaptionGenerator, data: FashionMNISTData, trainImages: Int) throws -> Double {
        let train = data.train
        let n = min(trainImages, train.images.count)
        let pixels = renderPlain(generator, train.images, train.labels, count: n)
        let trainFeatures = try e.embedImages(pixels, count: n)
        let testFeatures = try e.embedImages(plain, count: plainLabels.count)
        let dim = trainFeatures[0].count
        let probe = try LinearProbe.fit(features: trainFeatures.flatMap { $0 }, labels: train.labels[0..<n].map(Int.init),
                                        dim: dim, classes: CaptionGenerator.classNames.count)
        return probe.accuracy(features: testFeatures.flatMap { $0 }, labels: plainLabels)
    }

    /// Top-1 class of each image.
    public func predict(_ e: EvalEmbedder, images: [Float], count: Int, prompts: [[String]]) throws -> [Int] {
        try similarity(e, images: images, count: count, prompts: prompts).map { row in
            row.indices.max { row[$0] < row[$1] }!
        }
    }

    /// [image][class] similarity: class embeddings ensembled over their prompts (each
    /// normalized, averaged, renormalized), dotted with the image embedding (its norm does not
    /// change the ranking).
    public func similarity(_ e: EvalEmbedder, images: [Float], count: Int, prompts: [[String]]) throws -> [[Float]] {
        let flat = try e.embedTexts(prompts.flatMap { $0 })
        var classes: [[Float]] = []
        var at = 0
        for p in prompts {
            classes.append(ZeroShot.ensemble(Array(flat[at..<(at + p.count)])))
            at += p.count
        }
        return try e.embedImages(images, count: count).map { img in
            classes.map { c in zip(img, c).reduce(0) { $0 + $1.0 * $1.1 } }
        }
    }
}

/// The first `count` images rendered plain (untinted, large, centred: `plainAttributes`) and
/// normalized, [count, 3, S, S].
public func renderPlain(_ generator: CaptionGenerator, _ images: IDXImages, _ labels: [UInt8], count: Int) -> [Float] {
    var out: [Float] = []
    out.reserveCapacity(count * 3 * generator.canvas * generator.canvas)
    for i in 0..<count {
        out += generator.normalize(generator.renderRGB(gray: images.image(i), rows: images.rows, columns: images.columns,
                                                       attributes: CaptionGenerator.plainAttributes(classIndex: Int(labels[i]))))
    }
    return out
}

public func accuracy(_ predicted: [Int], _ truth: [Int]) -> Double {
    guard !truth.isEmpty else { return 0 }
    return Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
}

/// The curve's metric for a user's folder of pairs: image → text retrieval top-1 over (up to
/// `limit`) of its pairs — is an image's own caption the closest of all their captions?
/// (Measured on training pairs: it shows the model learning, not how it generalizes.)
public struct FolderRetrieval {
    public static let metricNames = ["image→text top-1"]
    public let images: [Float]
    public let captions: [String]

    public init(_ folder: FolderDataset, limit: Int) throws {
        let n = min(limit, folder.count)
        images = (0..<n).flatMap { folder.image($0) }
        captions = Array(folder.captions.prefix(n))
    }

    public func imageToText(_ e: EvalEmbedder) throws -> Double {
        let distinct = Array(Set(captions)).sorted()
        let text = try e.embedTexts(distinct).map { t -> [Float] in
            let norm = t.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return t.map { $0 / max(norm, 1e-12) }
        }
        let img = try e.embedImages(images, count: captions.count)
        var right = 0
        for (i, v) in img.enumerated() {
            let scores = text.map { t in zip(v, t).reduce(0) { $0 + $1.0 * $1.1 } }
            if distinct[scores.indices.max { scores[$0] < scores[$1] }!] == captions[i] { right += 1 }
        }
        return Double(right) / Double(max(captions.count, 1))
    }
}

/// What a training run learns from and how its curve scores the model: Fashion-MNIST with
/// generated captions (zero-shot and held-out top-1 on rendered test images), or a folder of
/// images with a captions file (image → text retrieval on its own pairs).
///
///     let tokenize = try captionTokenizer(try loadTokenizer(vocab), contextLength: recipe.model.contextLength)
///     let task = try TrainingTask.fashionMNIST(directory: dir, imageSize: 32, tokenize: tokenize, evalImages: 1000)
///     let trainer = try Trainer(recipe: recipe, metricNames: task.metricNames)
///     _ = try trainer.run(sample: task.sample, evaluate: task.evaluate, checkpointPath: "run.ckpt", …)
public struct TrainingTask {
    public let source: TrainingSource
    public let metricNames: [String]
    /// The curve's metrics for the model being trained.
    public let evaluate: (CLIPTrainModel) throws -> [Double]
    /// One line saying what was loaded.
    public let summary: String
    let tokenize: (String) throws -> [Int32]

    /// Fashion-MNIST's training split with generated captions; scored on the first `evalImages`
    /// plain test images and 20 images per held-out tint–class pair.
    public static func fashionMNIST(directory: String, imageSize: Int, tokenize: @escaping (String) throws -> [Int32],
                                    evalImages: Int) throws -> TrainingTask {
        let data = try FashionMNISTData.load(directory: directory)
        let generator = try CaptionGenerator(canvas: imageSize)
        let eval = try FashionMNISTEval(data: data, generator: generator, plainCount: evalImages, heldOutPerPair: 20)
        return TrainingTask(
            source: FashionMNISTSource(images: data.train.images, labels: data.train.labels, generator: generator),
            metricNames: FashionMNISTEval.metricNames,
            evaluate: { model in try eval.metrics(TrainModelEmbedder(model: model, tokenize: tokenize)) },
            summary: "data: \(data.train.images.count) Fashion-MNIST training images; evaluation on \(evalImages) plain test images and \(eval.heldOut.count) held-out tint–class images",
            tokenize: tokenize)
    }

    /// A folder of images and its captions file; scored by image → text retrieval over up to
    /// `evalImages` of its pairs.
    public static func folder(captionsFile: String, imageSize: Int, tokenize: @escaping (String) throws -> [Int32],
                              evalImages: Int) throws -> TrainingTask {
        let folder = try FolderDataset(captionsFile: captionsFile, imageSize: imageSize)
        let probe = try FolderRetrieval(folder, limit: evalImages)
        return TrainingTask(
            source: folder, metricNames: FolderRetrieval.metricNames,
            evaluate: { model in [try probe.imageToText(TrainModelEmbedder(model: model, tokenize: tokenize))] },
            summary: folder.summary, tokenize: tokenize)
    }

    /// A batch of `n` normalized images and their captions' token rows, for `Trainer.run`.
    public func sample(_ n: Int, _ rng: inout SeededNormal) throws -> (images: [Float], tokens: [Int32]) {
        let batch = try source.trainingBatch(batchSize: n, rng: &rng)
        return (batch.images, try batch.captions.flatMap(tokenize))
    }
}
