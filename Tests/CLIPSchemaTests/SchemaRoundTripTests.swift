// Every user of the table on the committed checkpoints (Tests/Fixtures/tiny-hf, tiny-openclip):
// the fixtures hold exactly the names and shapes the table gives for their config, and a round
// trip — checkpoint → converter → .pclip (f32) → CLIPWeights(pclip:) → the trainer's HF and
// OpenCLIP exporters → converter again — gives back the same names, shapes and f32 values.

import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CLIPTrain
import Foundation
import XCTest

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

final class SchemaRoundTripTests: XCTestCase {
    /// The committed checkpoints: directory, layout, weights file.
    static let checkpoints: [(dir: String, layout: CheckpointLayout, weights: String)] = [
        ("tiny-hf", .huggingFace, "model.safetensors"), ("tiny-openclip", .openCLIP, "open_clip_model.safetensors"),
    ]

    func load(_ path: String) throws -> Checkpoint {
        try CheckpointLoader.load(path, options: CheckpointOptions(tokenizerPath: fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"))
    }

    func temporaryDirectory(_ tag: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(tag)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Each tensor of `weights` by its row of the table, the logit scale included.
    func canonicalTensors(_ weights: CLIPWeights) -> [ModelTensor: Tensor] {
        var copy = weights, out: [ModelTensor: Tensor] = [.logitScale: Tensor(shape: [], values: [weights.logitScale])]
        copy.visitTensors { t, value in out[t] = value }
        return out
    }

    /// A trainer model of `config` holding `weights`, set through the trainer's parameter names.
    func trainModel(_ weights: CLIPWeights, _ c: CLIPConfig) throws -> CLIPTrainModel {
        let model = try CLIPTrainModel(
            config: TrainConfig(imageSize: c.vision.imageSize, patchSize: c.vision.patchSize, vision: c.vision.tower,
                                vocabularySize: c.text.vocabularySize, contextLength: c.text.contextLength,
                                text: c.text.tower, embedDim: c.embedDim, activation: c.activation),
            seed: 0)
        XCTAssertEqual(model.config.model, c)
        XCTAssertEqual(model.layout.views.map(\.id), ModelTensor.all(c), "the trainer's parameters are the table's tensors")
        for (t, value) in canonicalTensors(weights) { try model.setTensor(t.name, value.values) }
        return model
    }

    func testFixturesHoldExactlyTheTablesNamesAndShapes() throws {
        for (dir, layout, weights) in Self.checkpoints {
            let checkpoint = try load(fixtures + "/" + dir)
            XCTAssertEqual(checkpoint.layout, layout)
            let config = checkpoint.config
            var expected: [String: [Int]] = [:]
            for t in ModelTensor.all(config) {
                for (name, shape) in zip(t.names(in: layout), t.storedShapes(in: layout, config: config)) { expected[name] = shape }
            }
            let file = try SafetensorsFile(path: fixtures + "/\(dir)/\(weights)")
            let found = Dictionary(uniqueKeysWithValues: file.names.map { ($0, file.tensors[$0]!.shape) })
            XCTAssertEqual(Set(found.keys).subtracting(expected.keys).sorted(), [], "\(dir): tensors the table does not list")
            XCTAssertEqual(Set(expected.keys).subtracting(found.keys).sorted(), [], "\(dir): tensors of the table it lacks")
            XCTAssertEqual(found, expected, dir)
        }
    }

    func testConvertLoadExportRoundTrip() throws {
        let tmp = try temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        for (dir, layout, weightsFile) in Self.checkpoints {
            let checkpoint = try load(fixtures + "/" + dir)
            let config = checkpoint.config

            // Convert (f32: exact) and load the float weights back from the .pclip file.
            let path = tmp + "/\(dir).pclip"
            try PclipConverter.convert(checkpoint, to: path, options: ConvertOptions(dtype: .f32))
            let pclip = try PclipFile(path: path)
            XCTAssertEqual(pclip.tensors.map(\.name),
                           ModelTensor.all(config, logitScale: false).map { $0.pclipName! } + [PclipNames.vocabulary, PclipNames.merges])
            let weights = try CLIPWeights(pclip: pclip)
            XCTAssertEqual(weights, checkpoint.weights, "\(dir): .pclip round trip")
            let canonical = canonicalTensors(weights)

            // Export to both checkpoint layouts with the trainer's exporters.
            let model = try trainModel(weights, config)
            let source = try SafetensorsFile(path: fixtures + "/\(dir)/\(weightsFile)")
            for (out, tensors) in [(CheckpointLayout.openCLIP, OpenCLIPExport.tensors(model)), (.huggingFace, HFExport.tensors(model))] {
                let tag = "\(dir) → \(out)"
                XCTAssertEqual(tensors.map(\.name), ModelTensor.all(config).flatMap { $0.names(in: out) }, tag)
                XCTAssertEqual(tensors.map(\.shape), ModelTensor.all(config).flatMap { $0.storedShapes(in: out, config: config) }, tag)
                if out == layout {
                    // The fixture's own layout: its very tensors, widened to f32.
                    for t in tensors {
                        let (shape, values) = try source.floatTensor(t.name)
                        XCTAssertEqual(t.shape, shape, "\(tag): \(t.name)")
                        XCTAssertEqual(t.values.map(\.bitPattern), values.map(\.bitPattern), "\(tag): \(t.name)")
                    }
                }
                // Either layout reads back to the same canonical tensors.
                let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, Tensor(shape: $0.shape, values: $0.values)) })
                for t in ModelTensor.all(config) {
                    let back = try t.canonical(t.names(in: out).map { byName[$0]! }, from: out)
                    XCTAssertEqual(back.shape, canonical[t]!.shape, "\(tag): \(t)")
                    XCTAssertEqual(back.values.map(\.bitPattern), canonical[t]!.values.map(\.bitPattern), "\(tag): \(t)")
                }
            }

            // And the exported directories convert back to the same model.
            let hfDir = tmp + "/\(dir)-hf", ocDir = try temporaryDirectory("\(dir)-openclip")
            defer { try? FileManager.default.removeItem(atPath: ocDir) }
            try HFExport.write(model, directory: hfDir, tokenizerFiles: [])
            try OpenCLIPExport.write(model, directory: ocDir)
            for exported in [hfDir, ocDir] {
                let again = try load(exported)
                XCTAssertEqual(again.config, config, exported)
                XCTAssertEqual(again.weights, weights, exported)
            }
        }
    }
}
