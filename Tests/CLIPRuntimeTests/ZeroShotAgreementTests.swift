// The int8 runtime against the float path over 600+ image × label-set cases: every image and
// class embedding stays close, and the top-1 agreement is reported.

import CLIPConvert
import CLIPRuntime
import CorpusSupport
import Foundation
import XCTest

/// The converter's default q8 (one amax scale per channel; text blocks with least-squares scales,
/// per channel at these widths) + per-row asymmetric int8 activations on the tiny random models
/// (whose every block is active: weights N(0, 1/fan_in)). The step sizes predict 1 − cos ≈ 4.6e-4
/// (weights amax/127 with amax ≈ 3σ, activations (hi − lo)/255: 6.8e-3 relative noise each per
/// matmul, ~10 matmuls; PclipModelTests). That loss is the same on every CPU: the int8 sums are
/// exact integers on every dispatch path (vpdpbusd, or vpmaddubsw with |x|·sgn-w pairs ≤ 2·128·127
/// < 2¹⁵, no saturation), and only the float parts (LayerNorm, softmax, GELU, dequantization)
/// vary, by ≤ 1e-5 (maxAbsDiffTinyFP32), which moves 1 − cos by ≤ 2·sin θ·‖δ‖/‖e‖ < 1e-6 (sin θ ≈
/// 0.025) plus the rare one-level flips of activations within 1e-6 of a rounding boundary, less
/// still. Measured 1 − cos: 3.2e-4 (tiny-hf), 2.6e-4 (tiny-openclip) on an Intel Xeon @ 2.80GHz
/// (AVX-512 VNNI), the same bits with POCKETCLIP_ISA=avx2 and within 4e-9 with =portable. A quantizer that
/// truncates instead of rounding quadruples the noise power (1 − cos ≈ 1.3e-3) and fails; a wrong
/// scale or zero point gives cos ≪ 0.99. ViT-B/32 is measured by tools/bench/q8-fidelity.py and
/// tools/bench/bench-peers.py against the same bar as ONNX Runtime int8.
let minCosineQ8TinyEmbedding = 0.9995

final class ZeroShotAgreementTests: XCTestCase {
    static let labelSets: [[String]] = [
        ["cat", "dog", "car", "tree"],
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        ["a red square", "a blue circle", "a green triangle"],
        ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"],
        ["day", "night"],
        ["indoor scene", "outdoor scene", "close-up", "aerial view", "portrait"],
        ["apple", "banana", "orange", "grape", "strawberry", "lemon"],
        ["a photo", "a drawing", "a painting", "a sketch", "a cartoon", "a rendering"],
        ["black and white", "colorful", "blurry", "sharp"],
        ["mountain", "beach", "forest", "desert", "city", "lake", "river"],
        ["one object", "two objects", "many objects"],
        ["text", "noise", "gradient", "stripes", "checkerboard"],
        ["happy", "sad", "angry", "surprised"],
        ["piano", "guitar", "violin", "drum", "flute"],
    ]

    func testInt8AgreesWithFloat() throws {
        try checkAgreement(fixtureDirectory: "tiny-hf")
    }

    /// The other committed fixture (OpenCLIP layout, GELU): the same bar.
    func testInt8AgreesWithFloatOnTheOpenCLIPFixture() throws {
        try checkAgreement(fixtureDirectory: "tiny-openclip")
    }

    func checkAgreement(fixtureDirectory: String) throws {
        let imagesDir = fixture("images", "in")
        let images = try FileManager.default.contentsOfDirectory(atPath: imagesDir).sorted().map { imagesDir + "/" + $0 }
            + ["rgb_40x54.png", "gray_31x31.png", "rgba_67x20.png"].map { fixture("tiny-openclip", "images", $0) }
        let options = CheckpointOptions(tokenizerPath: fixtureDirectory == "tiny-openclip"
                                            ? fixture("tokenizer", "bpe_simple_vocab_16e6.txt.gz") : nil)
        let c = try CheckpointLoader.load(fixture(fixtureDirectory), options: options)
        let float = try CLIPModel(config: c.config, weights: c.weights, preprocess: c.preprocess, tokenizer: c.tokenizer, threads: 2)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agree-\(UUID().uuidString).pclip").path
        defer { unlink(path) }
        try PclipConverter.convert(c, to: path)
        let q8 = try CLIPModel.load(pclip: path, threads: 2)

        let floatImages = try float.embedImages(paths: images), q8Images = try q8.embedImages(paths: images)
        var worst = 1.0
        for (a, b) in zip(floatImages, q8Images) { worst = min(worst, compare(a, b).cosine) }
        var cases = 0, agree = 0
        for labels in Self.labelSets {
            let floatClasses = try float.classEmbeddings(labels: labels), q8Classes = try q8.classEmbeddings(labels: labels)
            for (a, b) in zip(floatClasses, q8Classes) { worst = min(worst, compare(a, b).cosine) }
            for i in images.indices {
                cases += 1
                let f = float.scores(image: floatImages[i], classes: floatClasses, labels: labels)[0].label
                let q = q8.scores(image: q8Images[i], classes: q8Classes, labels: labels)[0].label
                if f == q { agree += 1 }
            }
        }
        // Reported, not asserted: on random weights most label sets are near-ties (the float
        // top-1/top-2 logit margin is below 1 in ~96% of cases), so agreement measures the
        // fixture, not the quantizer (97.1% here; 95.8% with symmetric activations). The
        // agreement bar (≥ 99%) is for models whose classes are separated: the project's trained
        // default model.
        print("\(fixtureDirectory) q8 vs float: top-1 agreed on \(agree) of \(cases) cases; worst embedding cosine \(worst)")
        XCTAssertGreaterThanOrEqual(cases, 500)
        XCTAssertGreaterThanOrEqual(worst, minCosineQ8TinyEmbedding, "worst embedding cosine")
    }
}
