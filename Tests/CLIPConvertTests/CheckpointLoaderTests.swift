// Checkpoint discovery and the errors for checkpoints that cannot be run as given.

import CLIPConvert
import CLIPFormat
import CLIPKernels
import CLIPRuntime
import CorpusSupport
import Foundation
import XCTest

final class CheckpointLoaderTests: XCTestCase {
    let fm = FileManager.default

    func copy(_ fixtureFile: String, to dir: String, as name: String? = nil) throws {
        let source = fixtures + "/" + fixtureFile
        try fm.copyItem(atPath: source, toPath: dir + "/" + (name ?? URL(fileURLWithPath: source).lastPathComponent))
    }

    func testLoadsBothLayoutsFromDirectoriesAndFiles() throws {
        let hf = try CheckpointLoader.load(fixtures + "/tiny-hf")
        XCTAssertEqual(hf.layout, .huggingFace)
        XCTAssertNotNil(hf.tokenizer)
        let oc = try CheckpointLoader.load(fixtures + "/tiny-openclip/open_clip_model.safetensors")
        XCTAssertEqual(oc.layout, .openCLIP)
        XCTAssertEqual(oc.preprocess.mean, [0.5, 0.5, 0.5], "mean read from open_clip_config.json")
        XCTAssertEqual(oc.preprocess.size, 32)
        // Loading one tower leaves the other out.
        let visionOnly = try CheckpointLoader.load(fixtures + "/tiny-hf", options: CheckpointOptions(towers: .vision))
        XCTAssertNotNil(visionOnly.weights.vision)
        XCTAssertNil(visionOnly.weights.text)
    }

    func testMissingPath() {
        XCTAssertThrowsError(try CheckpointLoader.load("/nonexistent/ckpt")) { e in
            XCTAssertEqual(e as? CheckpointError, .notFound("/nonexistent/ckpt"))
        }
    }

    func testDirectoryWithoutWeights() throws {
        let dir = try temporaryDirectory()
        defer { try? fm.removeItem(atPath: dir) }
        XCTAssertThrowsError(try CheckpointLoader.load(dir)) { e in
            guard case .unrecognized? = e as? CheckpointError else { return XCTFail("unexpected \(e)") }
        }
    }

    func testOpenCLIPWithoutConfigRefusesToGuessTheActivation() throws {
        let dir = try temporaryDirectory()
        defer { try? fm.removeItem(atPath: dir) }
        try copy("tiny-openclip/open_clip_model.safetensors", to: dir)
        XCTAssertThrowsError(try CheckpointLoader.load(dir)) { e in
            guard case .needsActivation? = e as? CheckpointError else { return XCTFail("unexpected \(e)") }
            XCTAssertTrue("\(e)".contains("--activation"), "the error says what to do")
        }
        // With the activation given, heads fall back to OpenAI's width/64 rule, which a 32-wide
        // tower cannot satisfy: a config error, not a crash.
        XCTAssertThrowsError(try CheckpointLoader.load(dir, options: CheckpointOptions(activation: .gelu))) { e in
            guard case .invalidConfig? = e as? ModelError else { return XCTFail("unexpected \(e)") }
        }
    }

    func testHFWeightsWithoutConfig() throws {
        let dir = try temporaryDirectory()
        defer { try? fm.removeItem(atPath: dir) }
        try copy("tiny-hf/model.safetensors", to: dir)
        XCTAssertThrowsError(try CheckpointLoader.load(dir)) { e in
            guard case .unrecognized(_, let detail)? = e as? CheckpointError else { return XCTFail("unexpected \(e)") }
            XCTAssertTrue(detail.contains("config.json"))
        }
    }

    func testNotACLIPCheckpoint() throws {
        XCTAssertThrowsError(try CheckpointLoader.load(fixtures + "/safetensors/dtypes.safetensors")) { e in
            guard case .unrecognized? = e as? CheckpointError else { return XCTFail("unexpected \(e)") }
        }
    }

    func testCorruptConfigJSON() throws {
        let dir = try temporaryDirectory()
        defer { try? fm.removeItem(atPath: dir) }
        try copy("tiny-hf/model.safetensors", to: dir)
        try Data("{\"vision_config\": ".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertThrowsError(try CheckpointLoader.load(dir)) { e in
            guard case .badConfig? = e as? CheckpointError else { return XCTFail("unexpected \(e)") }
        }
    }

    func testMissingAndExtraTensors() throws {
        let dir = try temporaryDirectory()
        defer { try? fm.removeItem(atPath: dir) }
        try copy("tiny-openclip/open_clip_config.json", to: dir)
        // Rewrite the checkpoint without one tensor, then with one unknown tensor.
        let source = try SafetensorsFile(path: fixtures + "/tiny-openclip/open_clip_model.safetensors")
        func rewrite(dropping drop: String?, adding extra: String?) throws {
            var header: [String] = []
            var data: [UInt8] = []
            for name in source.names where name != drop {
                let bytes = try source.rawBytes(name)
                let info = source.tensors[name]!
                header.append("\"\(name)\":{\"dtype\":\"\(info.dtype.rawValue)\",\"shape\":\(info.shape),\"data_offsets\":[\(data.count),\(data.count + bytes.count)]}")
                data += bytes
            }
            if let extra {
                header.append("\"\(extra)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\(data.count),\(data.count + 4)]}")
                data += [0, 0, 0, 0]
            }
            try writeSafetensors(dir + "/open_clip_model.safetensors", header: "{" + header.joined(separator: ",") + "}", data: data)
        }
        try rewrite(dropping: "visual.ln_post.bias", adding: nil)
        XCTAssertThrowsError(try CheckpointLoader.load(dir)) { e in
            XCTAssertEqual(e as? ModelError, .missingTensor("visual.ln_post.bias"))
        }
        try rewrite(dropping: nil, adding: "visual.attn_pool.query")
        XCTAssertThrowsError(try CheckpointLoader.load(dir)) { e in
            guard case .unsupportedTensors(_, let names)? = e as? CheckpointError else { return XCTFail("unexpected \(e)") }
            XCTAssertEqual(names, ["visual.attn_pool.query"])
        }
    }
}
