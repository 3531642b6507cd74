// The composed model: gradients against finite differences, the seeded initialization, the
// optimizer's decay mask and the learning-rate schedule, and refusal of bad batches.

@testable import CLIPTrain
import XCTest

final class ModelTests: XCTestCase {
    static let tiny = TrainConfig(imageSize: 12, patchSize: 4, vision: .init(width: 8, layers: 2, heads: 2),
                                  vocabularySize: 20, contextLength: 6, text: .init(width: 12, layers: 1, heads: 3),
                                  embedDim: 5, activation: .gelu)

    func batch(_ c: TrainConfig, B: Int) -> ([Float], [Int32]) {
        let images = randomArray(B * 3 * c.imageSize * c.imageSize, seed: 40)
        var tokens = [Int32](repeating: 0, count: B * c.contextLength)
        for b in 0..<B {
            let n = 2 + b % (c.contextLength - 1)
            tokens[b * c.contextLength] = Int32(c.vocabularySize - 2)
            for t in 1..<(n - 1) { tokens[b * c.contextLength + t] = Int32(1 + (b * 7 + t * 3) % (c.vocabularySize - 3)) }
            tokens[b * c.contextLength + n - 1] = Int32(c.vocabularySize - 1)
        }
        return (images, tokens)
    }

    /// Central differences of the whole model's loss for a few elements of every parameter
    /// tensor. Error per tensor relative to the largest gradient of that tensor (elements with
    /// tiny gradients would otherwise measure only Float noise).
    func testWholeModelGradientsMatchFiniteDifferences() throws {
        let c = Self.tiny, B = 3
        let model = try CLIPTrainModel(config: c, seed: 7)
        let (images, tokens) = batch(c, B: B)
        _ = try model.lossAndGradients(images: images, tokens: tokens, batchSize: B)
        let analytic = model.gradients.array
        let probe = ModelTests.probe(model, images, tokens, B)
        var worst: Float = 0, worstName = ""
        for v in model.layout.views {
            let g = Array(analytic[v.offset..<(v.offset + v.count)])
            let scale = g.map(abs).max() ?? 0
            guard scale > 0 else { continue }  // e.g. unused token rows: checked elsewhere
            var diff: Float = 0
            for i in Set([0, v.count / 2, v.count - 1, g.indices.max { abs(g[$0]) < abs(g[$1]) }!]) {
                diff = max(diff, abs(g[i] - probe(v.offset + i)))
            }
            if diff / scale > worst { worst = diff / scale; worstName = v.name }
            XCTAssertLessThanOrEqual(diff / scale, modelGradCheckTolerance, v.name)
        }
        print("gradcheck whole model: max relative error \(worst) (\(worstName))")
    }

    /// |numeric − exact| ≤ ε_L/h + O(h²), ε_L the loss's float32 rounding error. The O(h²) term is
    /// a property of the function, not the CPU: 8e-2 at h = 1e-2 (the text embeddings, std
    /// 0.01–0.02, feed a LayerNorm with large curvature), so ≈ 8e-4 at h = 1e-3. Rounding: the head
    /// is z = s·cos over E = 5 in float32 (s = 14.3), log-sum-exp in Double, one final Float
    /// rounding (≤ u·L = 1.7e-7, L = 2.77); upstream roundings reach L through |∂L/∂z| ≤ 1/B with
    /// independent signs whatever the order or FMA (the probabilistic bound, λ√n·u rather than nu:
    /// Higham & Mary 2019), so ε_L is a few ulps of L (2.4e-7). The bar, 2e-2 of the smallest
    /// per-tensor gradient scale (0.128, visual ln_2.weight), admits ε_L up to 2.6e-6 = 11 ulps of
    /// L. Measured worst, on an Intel Xeon @ 2.80GHz with each OpenBLAS kernel forced (SKYLAKEX,
    /// HASWELL, SANDYBRIDGE without FMA, PRESCOTT, ZEN): 3.3e-3–4.2e-3 (≈ 2.5 ulps). A wrong
    /// backward term fails: LayerNorm's dx without its mean term gives 0.14 (visual.class_embedding,
    /// 7× the bar), a dropped factor 2 gives 0.5.
    let modelGradCheckTolerance: Float = 2e-2

    static func probe(_ model: CLIPTrainModel, _ images: [Float], _ tokens: [Int32], _ B: Int) -> (Int) -> Float {
        return { i in
            let p = model.parameters.pointer, h: Float = 1e-3, v = p[i]
            p[i] = v + h; let up = try! model.lossAndGradients(images: images, tokens: tokens, batchSize: B)
            p[i] = v - h; let down = try! model.lossAndGradients(images: images, tokens: tokens, batchSize: B)
            p[i] = v
            return (up - down) / (2 * h)
        }
    }

    func testSeededInitIsReproducibleAndFollowsCLIP() throws {
        let a = try CLIPTrainModel(config: Self.tiny, seed: 1), b = try CLIPTrainModel(config: Self.tiny, seed: 1)
        let c = try CLIPTrainModel(config: Self.tiny, seed: 2)
        XCTAssertEqual(a.parameters.array, b.parameters.array)
        XCTAssertNotEqual(a.parameters.array, c.parameters.array)
        XCTAssertEqual(try a.tensor("logit_scale")[0], logf(1 / 0.07), accuracy: 1e-6)
        XCTAssertEqual(try a.tensor("visual.ln_pre.weight"), [Float](repeating: 1, count: 8))
        XCTAssertEqual(try a.tensor("transformer.resblocks.0.attn.in_proj_bias"), [Float](repeating: 0, count: 36))
        // The token embedding (20×12 = 240 normals of std 0.02): sample std within 15%.
        let t = try a.tensor("token_embedding.weight")
        let std = (t.map { $0 * $0 }.reduce(0, +) / Float(t.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.003)
    }

    func testDecayMaskAndLogitScaleClamp() throws {
        let model = try CLIPTrainModel(config: Self.tiny, seed: 3)
        // With zero gradients only decay moves parameters: weights shrink, the rest stays.
        let before = model.parameters.array
        model.gradients.zero()
        try model.setTensor("logit_scale", [9])
        let opt = AdamW(model: model, weightDecay: 0.5)
        opt.step(model, lr: 0.1)
        for v in model.layout.views where v.name != "logit_scale" {
            let now = try model.tensor(v.name), was = Array(before[v.offset..<(v.offset + v.count)])
            if v.kind.decays {
                for (x, y) in zip(now, was) { XCTAssertEqual(x, y * 0.95, accuracy: 1e-7, v.name) }
            } else {
                XCTAssertEqual(now, was, v.name)
            }
        }
        XCTAssertEqual(try model.tensor("logit_scale")[0], maxLogLogitScale)
        // Exactly the matmul weights decay (CLIP's rule, as in tools/goldens/train-step-parity.py).
        let matmulSuffixes = ["conv1.weight", "in_proj_weight", "out_proj.weight", "c_fc.weight", "c_proj.weight",
                              "visual.proj", "text_projection"]
        for v in model.layout.views {
            XCTAssertEqual(v.kind.decays, matmulSuffixes.contains { v.name.hasSuffix($0) }, v.name)
        }
    }

    func testThreadedAdamWEqualsSerial() throws {
        // A vocabulary large enough (9000 × 16 token rows) that the update is split in chunks.
        var c = Self.tiny
        c.vocabularySize = 9000; c.text = .init(width: 16, layers: 1, heads: 2)
        let a = try CLIPTrainModel(config: c, seed: 5), b = try CLIPTrainModel(config: c, seed: 5)
        let (images, tokens) = batch(c, B: 2)
        let optA = AdamW(model: a), optB = AdamW(model: b)
        optB.threads = 2
        for _ in 0..<2 {
            _ = try a.lossAndGradients(images: images, tokens: tokens, batchSize: 2)
            _ = try b.lossAndGradients(images: images, tokens: tokens, batchSize: 2)
            optA.step(a, lr: 1e-3); optB.step(b, lr: 1e-3)
        }
        XCTAssertGreaterThan(a.layout.count, 2 * 65_536)
        XCTAssertEqual(a.parameters.array, b.parameters.array)
    }

    func testTrainingMemorizesOneBatch() throws {
        // Forward, backward, AdamW and the schedule together: 60 steps on one batch of 5 pairs (distinct captions)
        // must drive the loss well below chance (ln 5 ≈ 1.61; the first loss is higher, as random
        // embeddings at logit scale 1/0.07 are confidently wrong). A sign error anywhere, or an
        // optimizer that ignores its gradients, leaves it near ln 6.
        let c = Self.tiny, B = 5
        let model = try CLIPTrainModel(config: c, seed: 11)
        let opt = AdamW(model: model)
        let (images, tokens) = batch(c, B: B)
        var first: Float = 0, last: Float = 0
        for step in 0..<60 {
            last = try model.lossAndGradients(images: images, tokens: tokens, batchSize: B)
            if step == 0 { first = last }
            opt.step(model, lr: cosineLearningRate(step: step, baseLR: 1e-2, warmup: 5, totalSteps: 60))
        }
        print("memorize: loss \(first) -> \(last)")
        XCTAssertLessThan(last, 0.3 * logf(Float(B)), "loss \(first) -> \(last)")
    }

    func testWarmupCosineSchedule() {
        XCTAssertEqual(cosineLearningRate(step: 0, baseLR: 1, warmup: 10, totalSteps: 110), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosineLearningRate(step: 9, baseLR: 1, warmup: 10, totalSteps: 110), 1, accuracy: 1e-7)
        XCTAssertEqual(cosineLearningRate(step: 10, baseLR: 1, warmup: 10, totalSteps: 110), 1, accuracy: 1e-7)
        XCTAssertEqual(cosineLearningRate(step: 60, baseLR: 1, warmup: 10, totalSteps: 110), 0.5, accuracy: 1e-6)
        XCTAssertEqual(cosineLearningRate(step: 110, baseLR: 1, warmup: 10, totalSteps: 110), 0, accuracy: 1e-7)
    }

    func testBadInputIsRefused() throws {
        let model = try CLIPTrainModel(config: Self.tiny, seed: 3)
        let (images, tokens) = batch(Self.tiny, B: 2)
        XCTAssertThrowsError(try model.lossAndGradients(images: Array(images.dropLast()), tokens: tokens, batchSize: 2))
        XCTAssertThrowsError(try model.lossAndGradients(images: images, tokens: tokens + [1], batchSize: 2))
        XCTAssertThrowsError(try model.lossAndGradients(images: images, tokens: tokens.map { $0 + 5 }, batchSize: 2))
        XCTAssertThrowsError(try model.setTensor("visual.proj", [1, 2]))
        XCTAssertThrowsError(try model.tensor("no.such.tensor"))
        var bad = Self.tiny; bad.vision.heads = 3
        XCTAssertThrowsError(try CLIPTrainModel(config: bad, seed: 0))
        var huge = Self.tiny; huge.text.width = 1 << 40  // would overflow the layout's sizes
        XCTAssertThrowsError(try CLIPTrainModel(config: huge, seed: 0)) { error in
            XCTAssertTrue("\(error)".contains("text_width"), "\(error)")
        }
    }
}
