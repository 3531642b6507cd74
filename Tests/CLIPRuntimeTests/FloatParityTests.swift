// The float encoders against HF transformers and open_clip on the committed tiny random-weight
// checkpoints (tools/goldens/make-fixtures.py): every layer's residual stream, the pooled features,
// the embeddings and the zero-shot logits.

import CLIPConvert
import CLIPRuntime
import CorpusSupport
import XCTest

/// Ours and the golden are two float32 evaluations of the same math; each differs from the exact
/// (float64) result by the net's conditioning times its rounding noise, which golden.json records
/// for one evaluation: ref_f32_vs_ref_f64 ≤ 3.2e-6 (lib_f32 ≤ 2.1e-6) at |values| ≤ 6.1. Another
/// summation order, FMA or blocking (any CPU, any dispatch path) changes which roundings occur, not
/// their size u = 2⁻²⁴ nor the conditioning, so |ours − golden| ≤ 2 × 3.2e-6 = 6.4e-6; 1e-5 leaves
/// 1.5× for the tail. A real error (QuickGELU for GELU, a wrong LayerNorm ε, mask or attention
/// scale) moves values by ≥ 1e-2 (tools/goldens/make-fixtures.py's check), 1000× the bar.
let maxAbsDiffTinyFP32: Float = 1e-5
/// The bar for float parity; implied by the max-abs bar: 1 − cos ≤ ½(‖δ‖/‖x‖)² ≤
/// ½(1e-5 / rms x)², below 1e-8 for these tensors (rms ≥ 0.1).
let minCosineFP32 = 0.999999

/// Logits s·(â·b̂) from the golden's own embeddings (E = 16), both sides in float32 in any order:
/// normalizing costs ≤ (E/2 + 3)u per element, the dot γ_E·Σ|âᵢb̂ᵢ| ≤ γ_E (Cauchy–Schwarz), the
/// scale and its expf one u each, so each side is within s·(2(E/2 + 3) + E + 2)·u = 40u·s ≤ 4.3e-5
/// of the exact logit for these fixtures' s = e^logit_scale ≤ 18.04; both sides: 8.6e-5. A wrong
/// scale (logit_scale for its exp) or a missing normalization moves logits by ≥ 1.
let maxAbsDiffLogits: Float = 1e-4

/// The checks, shared by the tiny fixtures and the local ViT-B/32 check.
struct ParityChecks {
    /// `dir` is a fixture name or an absolute path (the local ViT-B/32 check).
    func checkpoint(_ dir: String) throws -> (Checkpoint, Golden) {
        let path = dir.hasPrefix("/") ? dir : fixture(dir)
        let c = try CheckpointLoader.load(path)
        return (c, try Golden(path + "/golden.safetensors"))
    }

    func checkVision(_ dir: String, maxAbs: Float = maxAbsDiffTinyFP32) throws {
        let (c, golden) = try checkpoint(dir)
        let encoder = try VisionEncoder(config: c.config, weights: c.weights.vision!)
        let pixels = try golden.tensor("pixel_values")
        let n = pixels.shape[0], layers = c.config.vision.tower.layers
        for i in 0..<n {
            var seen: [String: [Float]] = [:]
            let embedding = try encoder.encode(pixels: try golden.row("pixel_values", i)) { name, _, values in
                seen[name] = Array(values)
            }
            for l in 0...layers {
                assertClose(seen["vision.hidden.\(l)"] ?? [], try golden.row("vision.hidden.\(l)", i),
                            maxAbs: maxAbs, minCosine: minCosineFP32, "\(dir) image \(i) vision.hidden.\(l)")
            }
            assertClose(seen["vision.pooled"] ?? [], try golden.row("vision.pooled", i),
                        maxAbs: maxAbs, minCosine: minCosineFP32, "\(dir) image \(i) pooled")
            assertClose(embedding, try golden.row("image_embeds", i),
                        maxAbs: maxAbs, minCosine: minCosineFP32, "\(dir) image \(i) embedding")
        }
    }

    /// Golden ids padded to 77; the EOT index from the golden.
    func goldenTokens(_ golden: Golden, _ i: Int) throws -> (padded: [Int32], eot: Int) {
        let ids = try golden.row("input_ids", i).map { Int32($0) }
        let eot = Int(try golden.row("eot_index", i)[0])
        return (ids, eot)
    }

    func checkText(_ dir: String, maxAbs: Float = maxAbsDiffTinyFP32) throws {
        let (c, golden) = try checkpoint(dir)
        let encoder = try TextEncoder(config: c.config, weights: c.weights.text!)
        let m = try golden.tensor("input_ids").shape[0], d = c.config.text.tower.width
        for i in 0..<m {
            let (padded, eot) = try goldenTokens(golden, i)
            XCTAssertEqual(TextEncoder.poolIndex(of: padded), eot, "\(dir) text \(i): pooling position")
            var seen: [String: [Float]] = [:]
            let embedding = try encoder.encode(tokens: Array(padded[...eot])) { name, _, values in
                seen[name] = Array(values)
            }
            for l in 0...c.config.text.tower.layers {
                // Only the real tokens are computed: compare positions 0...EOT.
                let expected = Array(try golden.row("text.hidden.\(l)", i)[0..<((eot + 1) * d)])
                assertClose(seen["text.hidden.\(l)"] ?? [], expected, maxAbs: maxAbs,
                            minCosine: minCosineFP32, "\(dir) text \(i) text.hidden.\(l)")
            }
            assertClose(seen["text.pooled"] ?? [], try golden.row("text.pooled", i),
                        maxAbs: maxAbs, minCosine: minCosineFP32, "\(dir) text \(i) pooled")
            assertClose(embedding, try golden.row("text_embeds", i),
                        maxAbs: maxAbs, minCosine: minCosineFP32, "\(dir) text \(i) embedding")
        }
    }

    func checkLogits(_ dir: String) throws {
        let (c, golden) = try checkpoint(dir)
        XCTAssertEqual(c.weights.logitScale, try golden.tensor("logit_scale").values[0], "\(dir) logit scale")
        let images = try golden.tensor("image_embeds"), texts = try golden.tensor("text_embeds")
        let classes = (0..<texts.shape[0]).map { try! golden.row("text_embeds", $0) }
        for i in 0..<images.shape[0] {
            let logits = ZeroShot.logits(image: try golden.row("image_embeds", i), classes: classes,
                                         logitScale: c.weights.logitScale)
            assertClose(logits, try golden.row("logits_per_image", i), maxAbs: maxAbsDiffLogits, "\(dir) logits row \(i)")
        }
    }

    /// With the causal mask, running only the real tokens gives exactly the padded result.
    func checkPaddingIsIrrelevant(_ dir: String) throws {
        let (c, golden) = try checkpoint(dir)
        let encoder = try TextEncoder(config: c.config, weights: c.weights.text!)
        for i in 0..<(try golden.tensor("input_ids").shape[0]) {
            let (padded, eot) = try goldenTokens(golden, i)
            let short = try encoder.encode(tokens: Array(padded[...eot]))
            let full = try encoder.encode(tokens: padded, computeAllTokens: true)
            XCTAssertEqual(short, full, "\(dir) text \(i): real-tokens-only must equal the padded computation bit for bit")
            // And padding with EOT (HF's convention) instead of 0 changes nothing either.
            let eotPadded = Array(padded[...eot]) + [Int32](repeating: 49407, count: padded.count - eot - 1)
            XCTAssertEqual(try encoder.encode(tokens: eotPadded, computeAllTokens: true), full, "\(dir) text \(i): EOT padding")
        }
    }

}

final class FloatParityTests: XCTestCase {
    let checks = ParityChecks()

    func testHFVisionLayers() throws { try checks.checkVision("tiny-hf") }
    func testOpenCLIPVisionLayers() throws { try checks.checkVision("tiny-openclip") }
    func testHFTextLayers() throws { try checks.checkText("tiny-hf") }
    func testOpenCLIPTextLayers() throws { try checks.checkText("tiny-openclip") }
    func testHFLogits() throws { try checks.checkLogits("tiny-hf") }
    func testOpenCLIPLogits() throws { try checks.checkLogits("tiny-openclip") }
    func testHFPadding() throws { try checks.checkPaddingIsIrrelevant("tiny-hf") }
    func testOpenCLIPPadding() throws { try checks.checkPaddingIsIrrelevant("tiny-openclip") }

    func testConfigDerivedFromShapesAndConfigs() throws {
        let hf = try CheckpointLoader.load(fixture("tiny-hf")).config
        let oc = try CheckpointLoader.load(fixture("tiny-openclip")).config
        for c in [hf, oc] {
            XCTAssertEqual(c.vision, VisionConfig(imageSize: 32, patchSize: 8, tower: TowerConfig(width: 32, layers: 2, heads: 4, mlpWidth: 128)))
            XCTAssertEqual(c.text, TextConfig(vocabularySize: 49408, contextLength: 77, tower: TowerConfig(width: 32, layers: 2, heads: 4, mlpWidth: 128)))
            XCTAssertEqual(c.embedDim, 16)
        }
        XCTAssertEqual(hf.activation, .quickGELU)
        XCTAssertEqual(oc.activation, .gelu)
    }
}
