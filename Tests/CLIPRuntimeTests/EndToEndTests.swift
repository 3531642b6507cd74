// Image file and label text in, probabilities out, against open_clip's and HF's own pipelines
// (preprocess → tokenizer → model → softmax) on the tiny fixtures (tools/goldens/make-fixtures.py).

import CLIPConvert
import CLIPImage
import CLIPRuntime
import CorpusSupport
import Foundation
import XCTest

/// Normalized pixels from the same uint8 values: each side rounds v/255 (≤ u), the subtraction
/// (≤ u·|v/255 − m| ≤ u), the division (≤ u·|y|) and, if it keeps mean and std in float64, their
/// float32 values (m/σ·u, |y|·u): ≤ (2/σ + m/σ + 2|y|)·u = 13.8u = 8.2e-7 per side with CLIP's
/// constants (σ ≥ 0.2613, m ≤ 0.4815, |y| ≤ 2.15); both: 1.65e-6, on any CPU (no sum to reorder).
/// One resize level off gives 1/255/σ ≥ 1.4e-2, 7000× the bar.
let maxAbsDiffPixels: Float = 2e-6

/// Softmax probabilities from embeddings each within ε = maxAbsDiffTinyFP32 of the golden ones:
/// |δp| ≤ ½·max|δz| (the softmax Jacobian's rows sum to 2p(1 − p) ≤ ½), z = s·cos, and
/// |δcos| ≤ √E·ε·(1/‖a‖ + 1/‖b‖) plus both sides' float32 logit rounding (2·40u, see
/// maxAbsDiffLogits). E = 16; tiny-openclip: s = 18.04, norms ≥ 3.75 (e2e.safetensors):
/// ½·18.04·(4e-5·0.522 + 4.8e-6) = 2.3e-4; tiny-hf: s = 9.18, norms ≥ 2.81: 1.5e-4. A wrong
/// temperature or a misaligned label moves probabilities by ≥ 1e-2.
let maxAbsDiffProbabilities: Float = 2.5e-4

struct EndToEndGolden {
    let images: [String]
    let labels: [String]
    let golden: Golden

    init(_ dir: String) throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture(dir, "e2e.json")))) as! [String: Any]
        images = (json["images"] as! [String]).map { fixture(dir, $0) }
        labels = json["labels"] as! [String]
        golden = try Golden(fixture(dir, "e2e.safetensors"))
    }
}

final class EndToEndTests: XCTestCase {
    let vocabulary = fixture("tokenizer", "bpe_simple_vocab_16e6.txt.gz")

    func model(_ dir: String, cropRounding: CropRounding) throws -> CLIPModel {
        let c = try CheckpointLoader.load(fixture(dir), options: CheckpointOptions(
            tokenizerPath: dir == "tiny-openclip" ? vocabulary : nil, cropRounding: cropRounding))
        return try CLIPModel(config: c.config, weights: c.weights, preprocess: c.preprocess, tokenizer: c.tokenizer)
    }

    func check(_ dir: String, model m: CLIPModel, suffix: String) throws {
        let e = try EndToEndGolden(dir)
        // Token ids: open_clip pads with 0, HF with EOT; the real tokens must be identical.
        let ids = try e.golden.tensor("e2e.input_ids")
        for (k, label) in e.labels.enumerated() {
            let expected = try e.golden.row("e2e.input_ids", k).map { Int32($0) }
            let eot = TextEncoder.poolIndex(of: expected)
            XCTAssertEqual(try m.tokenizer!.tokenize(label, truncate: false), Array(expected[...eot]), "\(dir) tokens of '\(label)'")
            assertClose(try m.embedText(label), try e.golden.row("e2e.text_embeds", k),
                        maxAbs: maxAbsDiffTinyFP32, minCosine: minCosineFP32, "\(dir) text embedding of '\(label)'")
        }
        XCTAssertEqual(ids.shape, [e.labels.count, 77])
        let classes = try e.labels.map { try m.embedText($0) }
        for (i, path) in e.images.enumerated() {
            let pixels = try Preprocessor.pixels(path: path, config: m.preprocess)
            assertClose(pixels, try e.golden.tensor("e2e.pixels\(suffix).\(i)").values,
                        maxAbs: maxAbsDiffPixels, "\(dir) pixels of \(path)")
            let image = try m.embedImage(path: path)
            assertClose(image, try e.golden.row("e2e.image_embeds\(suffix)", i),
                        maxAbs: maxAbsDiffTinyFP32, minCosine: minCosineFP32, "\(dir) image embedding of \(path)")
            let probabilities = m.scores(image: image, classes: classes, labels: e.labels)
            let byLabel = Dictionary(uniqueKeysWithValues: probabilities.map { ($0.label, $0.probability) })
            assertClose(e.labels.map { byLabel[$0]! }, try e.golden.row("e2e.probs\(suffix)", i),
                        maxAbs: maxAbsDiffProbabilities, "\(dir) probabilities of \(path)")
        }
    }

    func testOpenCLIPPipeline() throws {
        try check("tiny-openclip", model: try model("tiny-openclip", cropRounding: .openCLIP), suffix: "")
    }

    /// HF's preprocessing on the PIL path (CLIPImageProcessor with Pillow resampling): convert to
    /// RGB first, crop offset (H − S) // 2. transformers 5's default fast processor resizes with
    /// torchvision instead and differs from Pillow by up to 2 levels (docs/fixtures.md).
    func testHFPipeline() throws {
        let c = try CheckpointLoader.load(fixture("tiny-hf"), options: CheckpointOptions(cropRounding: .huggingFace))
        var preprocess = c.preprocess
        preprocess.order = .convertThenResize
        let hf = try CLIPModel(config: c.config, weights: c.weights, preprocess: preprocess, tokenizer: c.tokenizer)
        try check("tiny-hf", model: hf, suffix: "_pil")
    }
}
