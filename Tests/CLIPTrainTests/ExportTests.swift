// The open_clip export: names, shapes and layouts as open_clip's state dict, aligned payloads.

@testable import CLIPTrain
import Foundation
import XCTest

final class ExportTests: XCTestCase {
    func testSafetensorsInOpenCLIPLayout() throws {
        let c = ModelTests.tiny
        let model = try CLIPTrainModel(config: c, seed: 9)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-export-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try OpenCLIPExport.write(model, directory: dir.path)

        let file = dir.appendingPathComponent("open_clip_model.safetensors")
        let golden = try GoldenFile(file)
        XCTAssertEqual(golden.floats.count, model.layout.views.count)
        XCTAssertEqual(golden.shapes["visual.conv1.weight"], [c.vision.width, 3, c.patchSize, c.patchSize])
        XCTAssertEqual(golden.floats["visual.conv1.weight"], try model.tensor("visual.conv1.weight"))
        XCTAssertEqual(golden.shapes["logit_scale"], [])
        XCTAssertEqual(golden.shapes["transformer.resblocks.0.attn.in_proj_weight"], [3 * c.text.width, c.text.width])
        // visual.proj: canonical [E, D] element (e, d) is open_clip's [D, E] element (d, e).
        XCTAssertEqual(golden.shapes["visual.proj"], [c.vision.width, c.embedDim])
        let canonical = try model.tensor("visual.proj"), exported = try XCTUnwrap(golden.floats["visual.proj"])
        let (e, d) = (3, 5)
        XCTAssertEqual(exported[d * c.embedDim + e], canonical[e * c.vision.width + d])
        // Payloads start 8-byte aligned.
        let data = try Data(contentsOf: file)
        let headerLen = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        XCTAssertEqual((8 + headerLen) % 8, 0)

        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("open_clip_config.json"))) as! [String: Any]
        let modelCfg = try XCTUnwrap(config["model_cfg"] as? [String: Any])
        XCTAssertEqual(modelCfg["quick_gelu"] as? Bool, false)  // the tiny config uses GELU
        XCTAssertEqual((modelCfg["vision_cfg"] as? [String: Any])?["head_width"] as? Int, c.vision.width / c.vision.heads)
        XCTAssertEqual((modelCfg["text_cfg"] as? [String: Any])?["heads"] as? Int, c.text.heads)
    }

    func testWriteIntoMissingDirectoryThrows() throws {
        let model = try CLIPTrainModel(config: ModelTests.tiny, seed: 9)
        XCTAssertThrowsError(try OpenCLIPExport.write(model, directory: "/nonexistent-dir-\(getpid())")) { error in
            XCTAssertTrue("\(error)".contains("cannot create"), "\(error)")
        }
    }
}
