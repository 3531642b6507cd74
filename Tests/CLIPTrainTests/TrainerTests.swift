// The training loop: a seed gives one run, a stopped run resumed from its checkpoint is the
// run that never stopped, a damaged checkpoint is refused, the recipe round-trips through its
// fields, the forward-only embeddings are the ones the loss sees, and the linear probe learns.

import CLIPTrain
import Foundation
import XCTest

final class TrainerTests: XCTestCase {
    /// A tiny recipe: 8×8 images, patch 4, widths 8, one layer each, vocabulary 32, context 6.
    static let recipe = TrainRecipe(
        model: TrainConfig(imageSize: 8, patchSize: 4, vision: .init(width: 8, layers: 1, heads: 2),
                           vocabularySize: 32, contextLength: 6, text: .init(width: 8, layers: 1, heads: 2),
                           embedDim: 8, activation: .quickGELU),
        steps: 12, batchSize: 4, learningRate: 3e-3, warmupSteps: 3, seed: 9, evalEvery: 4, checkpointEvery: 5)

    /// Seeded synthetic batches: random pixels and token rows [SOT-like 30, ids, EOT 31, 0…].
    static func sample(_ n: Int, _ rng: inout SeededNormal) -> (images: [Float], tokens: [Int32]) {
        let c = recipe.model
        let images = (0..<(n * 3 * c.imageSize * c.imageSize)).map { _ in rng.next() }
        var tokens = [Int32](repeating: 0, count: n * c.contextLength)
        for b in 0..<n {
            tokens[b * c.contextLength] = 30
            let len = 1 + Int(rng.nextUInt64() % 3)
            for t in 1...len { tokens[b * c.contextLength + t] = Int32(1 + rng.nextUInt64() % 28) }
            tokens[b * c.contextLength + len + 1] = 31
        }
        return (images, tokens)
    }

    /// A metric that depends on the parameters, so history equality means model equality too.
    static func metric(_ m: CLIPTrainModel) throws -> [Double] {
        [Double(try m.tensor("logit_scale")[0]) / 10]
    }

    func tempPath(_ name: String) -> String {
        NSTemporaryDirectory() + "pocketclip-trainer-\(UUID().uuidString)-\(name)"
    }

    func testSameSeedSameRun() throws {
        let a = try Trainer(recipe: Self.recipe, metricNames: ["m"]), b = try Trainer(recipe: Self.recipe, metricNames: ["m"])
        XCTAssertEqual(try a.run(sample: Self.sample, evaluate: Self.metric), .finished)
        XCTAssertEqual(try b.run(sample: Self.sample, evaluate: Self.metric), .finished)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: a.model.parameters.pointer, count: a.model.layout.count)),
                       Array(UnsafeBufferPointer(start: b.model.parameters.pointer, count: b.model.layout.count)))
        XCTAssertEqual(a.history.map(\.loss), b.history.map(\.loss))
        // Another seed is another run.
        var other = Self.recipe
        other.seed = 10
        let c = try Trainer(recipe: other)
        try c.run(sample: Self.sample)
        XCTAssertNotEqual(try a.model.tensor("visual.proj"), try c.model.tensor("visual.proj"))
    }

    func testResumeEqualsUninterruptedRun() throws {
        let whole = try Trainer(recipe: Self.recipe, metricNames: ["m"])
        try whole.run(sample: Self.sample, evaluate: Self.metric, logEvery: 2)

        let path = tempPath("resume.ckpt")
        defer { unlink(path) }
        let first = try Trainer(recipe: Self.recipe, metricNames: ["m"])
        // Stop after 7 steps (the checkpoint at step 5 is overwritten by the one at the stop).
        var steps = 0
        XCTAssertEqual(try first.run(sample: { n, rng in steps += 1; return Self.sample(n, &rng) }, evaluate: Self.metric,
                                     checkpointPath: path, logEvery: 2, shouldStop: { steps >= 7 }), .stopped)
        XCTAssertEqual(first.step, 7)
        let resumed = try Trainer(resumingFrom: path)
        XCTAssertEqual(resumed.step, 7)
        XCTAssertEqual(resumed.recipe, Self.recipe)
        XCTAssertEqual(resumed.metricNames, ["m"])
        XCTAssertEqual(try resumed.run(sample: Self.sample, evaluate: Self.metric, logEvery: 2), .finished)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: resumed.model.parameters.pointer, count: resumed.model.layout.count)),
                       Array(UnsafeBufferPointer(start: whole.model.parameters.pointer, count: whole.model.layout.count)),
                       "resumed parameters must be bit-identical to the uninterrupted run's")
        XCTAssertEqual(resumed.optimizer.state().m, whole.optimizer.state().m)
        // The stop added a log row at step 7 the uninterrupted run does not have; the rest is equal.
        XCTAssertEqual(resumed.history.filter { $0.step != 7 }.map(\.step), whole.history.map(\.step))
        XCTAssertEqual(resumed.history.filter { $0.step != 7 && !$0.metrics.isEmpty }.map(\.metrics),
                       whole.history.filter { !$0.metrics.isEmpty }.map(\.metrics))
    }

    func testDamagedCheckpointsAreRefused() throws {
        let path = tempPath("bad.ckpt")
        defer { unlink(path) }
        let t = try Trainer(recipe: Self.recipe)
        try t.run(sample: Self.sample, stopAfter: 2)
        try t.saveCheckpoint(to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(try Trainer(resumingFrom: path).step, 2)

        func expectRefusal(_ bytes: Data, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
            try! bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Trainer(resumingFrom: path), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(mentions), "'\(e)' should mention '\(mentions)'", file: file, line: line)
            }
        }
        expectRefusal(good.prefix(good.count - 100), mentions: "checksum")  // truncated
        var flipped = good
        flipped[good.count / 2] ^= 0x40
        expectRefusal(flipped, mentions: "checksum")  // bit rot in the weights
        expectRefusal(Data("PCLIPCKX".utf8) + good.dropFirst(8), mentions: "magic")
        expectRefusal(Data(), mentions: "magic")
        expectRefusal(good.prefix(30), mentions: "magic")
        XCTAssertThrowsError(try Trainer(resumingFrom: "/nonexistent/x.ckpt")) { XCTAssertTrue("\($0)".contains("cannot open")) }
    }

    func testRecipeFieldsRoundTripAndValidate() throws {
        let r = try TrainRecipe(fields: Self.recipe.fields)
        XCTAssertEqual(r, Self.recipe)
        XCTAssertEqual(try TrainRecipe(fields: [("steps", "77"), ("activation", "gelu")]).steps, 77)
        XCTAssertEqual(try TrainRecipe(fields: [("vision_width", "64"), ("vision_heads", "2")]).model.vision.mlpWidth, 256)
        for (key, value, mention) in [("stepz", "1", "unknown recipe key"), ("steps", "many", "integer"), ("steps", "0", "steps"),
                                      ("batch_size", "1", "negatives"), ("learning_rate", "nan", "number"),
                                      ("activation", "relu", "quick_gelu"), ("vision_heads", "3", "multiple of vision_heads")] {
            XCTAssertThrowsError(try TrainRecipe(fields: [(key, value)]), "\(key)=\(value)") { e in
                XCTAssertTrue("\(e)".contains(mention), "'\(e)' should mention '\(mention)'")
            }
        }
    }

    func testCurveFiles() throws {
        let t = try Trainer(recipe: Self.recipe, metricNames: ["zero-shot", "held-out"])
        try t.run(sample: Self.sample, evaluate: { _ in [0.25, 0.5] }, logEvery: 3)
        let csv = t.curveCSV().split(separator: "\n")
        XCTAssertEqual(csv[0], "step,loss,learning_rate,images_per_second,zero-shot,held-out")
        XCTAssertEqual(csv.count, 1 + t.history.count)
        XCTAssertEqual(t.history.map(\.step), [3, 4, 6, 8, 9, 12])  // every 3rd step plus the evaluation points
        XCTAssertTrue(csv[2].hasSuffix(",0.25,0.5"), String(csv[2]))  // step 4: evaluated
        XCTAssertTrue(csv[1].hasSuffix(",,"), String(csv[1]))  // step 3: not evaluated
        let svg = t.curveSVG()
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 3)  // loss + two metrics
        XCTAssertTrue(svg.contains("zero-shot 25.0%"))
    }

    /// The forward-only embeddings are the ones the loss is computed from.
    func testEmbeddingsGiveTheTrainingLoss() throws {
        let model = try CLIPTrainModel(config: Self.recipe.model, seed: 3)
        var rng = SeededNormal(seed: 4)
        let (images, tokens) = Self.sample(4, &rng)
        let loss = try model.lossAndGradients(images: images, tokens: tokens, batchSize: 4)
        let img = try model.imageEmbeddings(images: images, count: 4, chunk: 3)  // chunking must not matter
        let txt = try model.textEmbeddings(tokens: tokens, count: 4)
        let E = Self.recipe.model.embedDim, scale = exp(Double(try model.tensor("logit_scale")[0]))
        var total = 0.0
        for axis in 0..<2 {
            for i in 0..<4 {
                let logits = (0..<4).map { j -> Double in
                    let (a, b) = axis == 0 ? (i, j) : (j, i)
                    return scale * (0..<E).reduce(0.0) { $0 + Double(img[a * E + $1]) * Double(txt[b * E + $1]) }
                }
                let top = logits.max()!
                total += -(logits[i] - top - log(logits.reduce(0) { $0 + exp($1 - top) }))
            }
        }
        // |δL| ≤ Σ|∂L/∂z|·max|δz| ≤ 2s·max|δcos| (each of the 2B cross-entropies has Σ|p − y| ≤ 2,
        // averaged over 2B), s = e^logit_scale = 14.3. δcos: the loss's own float32 dot over E = 8
        // (γ₈ + u = 5.4e-7) plus these embeddings against the loss path's: two float32 runs of the
        // towers with other sgemm row counts, which OpenBLAS may sum differently (its HASWELL and ZEN
        // kernels do), each unit-vector element ≤ 1e-6 from exact (the tiny fixtures' embeddings
        // record ≤ 3.7e-7 relative float32 noise, golden.json; normalizing adds ≤ 11u), so a pair
        // ≤ 2·√8·2e-6 = 1.1e-5. 2·14.3·1.2e-5 = 3.4e-4. Measured 4.8e-8 (OpenBLAS SKYLAKEX) to
        // 1.8e-7 (HASWELL, ZEN). Other embeddings (no ln_post, a wrong EOT row) move it ≥ 1e-2.
        let lossTolerance = 4e-4
        XCTAssertEqual(total / 8, Double(loss), accuracy: lossTolerance)
        for r in 0..<4 {
            let norm = (0..<E).reduce(0.0) { $0 + Double(img[r * E + $1] * img[r * E + $1]) }
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        XCTAssertThrowsError(try model.imageEmbeddings(images: [1, 2], count: 1))
        XCTAssertThrowsError(try model.textEmbeddings(tokens: [1, 99], count: 1))
    }

    func testLinearProbeLearnsSeparableClasses() throws {
        // Three Gaussian blobs in 5 dimensions, well apart: a linear model separates them.
        var rng = SeededNormal(seed: 11)
        var features: [Float] = [], labels: [Int] = []
        for i in 0..<300 {
            let c = i % 3
            labels.append(c)
            for d in 0..<5 { features.append(rng.next() * 0.5 + (d == c ? 3 : 0)) }
        }
        let probe = try LinearProbe.fit(features: features, labels: labels, dim: 5, classes: 3, iterations: 200)
        XCTAssertGreaterThan(probe.accuracy(features: features, labels: labels), 0.97)
        // Labels unrelated to the features: no better than chance on fresh data.
        let shuffled = labels.map { _ in Int(rng.nextUInt64() % 3) }
        let noise = try LinearProbe.fit(features: features, labels: shuffled, dim: 5, classes: 3, iterations: 200)
        let fresh = labels.map { _ in Int(rng.nextUInt64() % 3) }
        XCTAssertLessThan(noise.accuracy(features: features, labels: fresh), 0.5)
        XCTAssertThrowsError(try LinearProbe.fit(features: [1, 2], labels: [0, 1], dim: 1, classes: 2))
    }
}
