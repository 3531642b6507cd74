// The table of tensor names on its own: every layout names each tensor once, the transforms
// between the canonical and the stored layouts are exact inverses with the shapes the table
// derives, and each tower's names are recognizable by its prefixes.

import CLIPSchema
import XCTest

/// The committed tiny checkpoints' architecture (Tests/Fixtures/tiny-hf, tiny-openclip).
let tinyConfig = CLIPConfig(
    vision: VisionConfig(imageSize: 32, patchSize: 8, tower: TowerConfig(width: 32, layers: 2, heads: 4, mlpWidth: 128)),
    text: TextConfig(vocabularySize: 49408, contextLength: 77, tower: TowerConfig(width: 32, layers: 2, heads: 4, mlpWidth: 128)),
    embedDim: 16, activation: .quickGELU)

/// A small model whose every dimension differs, so a swapped dimension shows in a shape.
let oddConfig = CLIPConfig(
    vision: VisionConfig(imageSize: 12, patchSize: 4, tower: TowerConfig(width: 8, layers: 3, heads: 2, mlpWidth: 20)),
    text: TextConfig(vocabularySize: 11, contextLength: 7, tower: TowerConfig(width: 6, layers: 1, heads: 3, mlpWidth: 14)),
    embedDim: 5, activation: .gelu)

final class TensorTableTests: XCTestCase {
    func testEveryLayoutNamesEachTensorOnce() {
        for config in [tinyConfig, oddConfig] {
            let all = ModelTensor.all(config)
            XCTAssertEqual(all.count, 8 + 5 + 12 * (config.vision.tower.layers + config.text.tower.layers) + 1)
            XCTAssertEqual(Set(all).count, all.count)
            // .pclip: every tensor but the logit scale (kept in the metadata), and the tokenizer.
            let pclip = all.compactMap(\.pclipName)
            XCTAssertEqual(pclip.count, all.count - 1)
            XCTAssertNil(ModelTensor.logitScale.pclipName)
            XCTAssertEqual(Set(pclip + [PclipNames.vocabulary, PclipNames.merges]).count, pclip.count + 2)
            for layout in CheckpointLayout.allCases {
                let names = all.flatMap { $0.names(in: layout) }
                XCTAssertEqual(Set(names).count, names.count, "\(layout) spells a name twice")
                let blocks = config.vision.tower.layers + config.text.tower.layers
                XCTAssertEqual(names.count, all.count + (layout == .huggingFace ? 2 * 2 * blocks : 0), "HF splits q, k, v")
            }
        }
    }

    func testOpenAINamesAreOpenCLIPs() {
        XCTAssertEqual(CheckpointLayout.openAI, .openCLIP)
        XCTAssertEqual(ModelTensor(.qkvWeight, .vision, block: 11).name, "visual.transformer.resblocks.11.attn.in_proj_weight")
        XCTAssertEqual(ModelTensor(.textProjection).names(in: .openAI), ["text_projection"])
    }

    func testNamesOfEachLayout() {
        let qkv = ModelTensor(.qkvBias, .text, block: 1)
        XCTAssertEqual(qkv.pclipName, "text.blocks.1.attn.qkv.bias")
        XCTAssertEqual(qkv.names(in: .openCLIP), ["transformer.resblocks.1.attn.in_proj_bias"])
        XCTAssertEqual(qkv.names(in: .huggingFace), ["q", "k", "v"].map { "text_model.encoder.layers.1.self_attn.\($0)_proj.bias" })
        XCTAssertEqual(ModelTensor(.lnPreWeight).names(in: .huggingFace), ["vision_model.pre_layrnorm.weight"])
        XCTAssertEqual(ModelTensor(.visionPositions).pclipName, "vision.pos_embed")
        XCTAssertEqual(ModelTensor(.textPositions).pclipName, "text.pos_embed")
    }

    /// The shapes each layout stores, derived from the config: the transforms of the header's table.
    func testStoredShapes() {
        let c = oddConfig
        let (dv, dt, e, p) = (8, 6, 5, 4)
        XCTAssertEqual(ModelTensor(.patchEmbedding).shape(c), [dv, 3 * p * p])
        for layout in CheckpointLayout.allCases {
            XCTAssertEqual(ModelTensor(.patchEmbedding).storedShapes(in: layout, config: c), [[dv, 3, p, p]])
            XCTAssertEqual(ModelTensor.logitScale.storedShapes(in: layout, config: c), [[]])
        }
        XCTAssertEqual(ModelTensor(.visionProjection).storedShapes(in: .openCLIP, config: c), [[dv, e]])
        XCTAssertEqual(ModelTensor(.visionProjection).storedShapes(in: .huggingFace, config: c), [[e, dv]])
        XCTAssertEqual(ModelTensor(.textProjection).storedShapes(in: .openCLIP, config: c), [[dt, e]])
        XCTAssertEqual(ModelTensor(.qkvWeight, .text, block: 0).storedShapes(in: .openCLIP, config: c), [[3 * dt, dt]])
        XCTAssertEqual(ModelTensor(.qkvWeight, .text, block: 0).storedShapes(in: .huggingFace, config: c),
                       Array(repeating: [dt, dt], count: 3))
        XCTAssertEqual(ModelTensor(.fcWeight, .vision, block: 2).shape(c), [20, dv])
        XCTAssertEqual(ModelTensor(.projWeight, .text, block: 0).shape(c), [dt, 14])
        XCTAssertEqual(ModelTensor(.tokenEmbedding).shape(c), [11, dt])
        XCTAssertEqual(ModelTensor(.visionPositions).shape(c), [10, dv])
    }

    /// canonical → stored → canonical is the identity, bit for bit, for every tensor and layout;
    /// the stored tensors have the names and shapes the table gives.
    func testTransformsAreExactInverses() throws {
        let c = oddConfig
        var seed: UInt32 = 1
        for t in ModelTensor.all(c) {
            let shape = t.shape(c)
            let values = (0..<shape.reduce(1, *)).map { _ -> Float in
                seed = seed &* 1_664_525 &+ 1_013_904_223
                return Float(Int32(bitPattern: seed)) / 65536
            }
            let canonical = Tensor(shape: shape, values: values)
            for layout in CheckpointLayout.allCases {
                let stored = t.stored(canonical, in: layout, config: c)
                XCTAssertEqual(stored.map(\.name), t.names(in: layout))
                XCTAssertEqual(stored.map(\.tensor.shape), t.storedShapes(in: layout, config: c))
                XCTAssertEqual(try t.canonical(stored.map(\.tensor), from: layout), canonical, "\(t) in \(layout)")
            }
        }
        // A transpose is element (r, c) → (c, r).
        let proj = ModelTensor(.visionProjection)
        let w = Tensor(shape: [5, 8], values: (0..<40).map(Float.init))
        let stored = proj.stored(w, in: .openCLIP, config: c)[0].tensor
        XCTAssertEqual(stored.values[3 * 5 + 2], w.values[2 * 8 + 3])
    }

    /// Reading refuses what its transform cannot undo, naming the stored tensor.
    func testCanonicalRefusesShapesItCannotUndo() {
        let qkv = ModelTensor(.qkvWeight, .vision, block: 0)
        let names = qkv.names(in: .huggingFace)
        let d = Tensor(shape: [2, 2], values: [0, 1, 2, 3]), odd = Tensor(shape: [4], values: [0, 1, 2, 3])
        XCTAssertThrowsError(try qkv.canonical([d, odd, d], from: .huggingFace)) { e in
            XCTAssertEqual(e as? ModelError, .shapeMismatch(tensor: names[1], expected: [2, 2], found: [4]))
        }
        XCTAssertThrowsError(try ModelTensor(.textProjection).canonical([odd], from: .openCLIP)) { e in
            XCTAssertEqual(e as? ModelError, .shapeMismatch(tensor: "text_projection", expected: [-1, -1], found: [4]))
        }
    }

    /// Each tower's names start with one of its prefixes and with none of the other tower's (the
    /// converter tells a leftover tensor's tower by them).
    func testTowerPrefixesSeparateTheTowers() {
        for layout in CheckpointLayout.allCases {
            for tower in ModelTensor.Tower.allCases {
                let own = ModelTensor.namePrefixes(of: tower, in: layout)
                let other = ModelTensor.namePrefixes(of: tower == .vision ? .text : .vision, in: layout)
                for name in ModelTensor.tower(tower, layers: 2).flatMap({ $0.names(in: layout) }) {
                    XCTAssertTrue(own.contains { name.hasPrefix($0) }, "\(name) in \(layout)")
                    XCTAssertFalse(other.contains { name.hasPrefix($0) }, "\(name) in \(layout)")
                }
                for name in ModelTensor.logitScale.names(in: layout) {
                    XCTAssertFalse(own.contains { name.hasPrefix($0) }, "\(name) belongs to neither tower")
                }
            }
        }
        XCTAssertEqual(ModelTensor.namePrefixes(of: .vision, in: .openCLIP), ["visual."])
        XCTAssertEqual(Set(ModelTensor.namePrefixes(of: .text, in: .openCLIP)),
                       ["token_embedding.", "positional_embedding", "ln_final.", "text_projection", "transformer."])
        XCTAssertEqual(Set(ModelTensor.namePrefixes(of: .vision, in: .huggingFace)), ["vision_model.", "visual_projection."])
        XCTAssertEqual(Set(ModelTensor.namePrefixes(of: .text, in: .huggingFace)), ["text_model.", "text_projection."])
    }
}
