// An explicit activation against the checkpoint's own config (CheckpointOptions.activation and
// forceActivation): the same one is fine, the other one an error naming the config and the way
// out unless forced; a checkpoint whose config says nothing takes it as before. A .pclip file's
// activation is fixed by its conversion.

import CLIPConvert
import CLIPKernels
import CLIPRuntime
import CorpusSupport
import Foundation
import XCTest

final class ActivationChoiceTests: XCTestCase {
    let fm = FileManager.default

    /// The conflict error for `path` with `options`, or a failure if it loads or fails otherwise.
    func conflict(_ path: String, _ options: CheckpointOptions, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try CheckpointLoader.load(path, options: options)
            XCTFail("loaded despite the contradiction", file: file, line: line)
        } catch let e as CheckpointError {
            guard case .activationConflict = e else { XCTFail("unexpected \(e)", file: file, line: line); return "" }
            return "\(e)"
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return ""
    }

    func testHFConfigDecides() throws {
        let hf = fixtures + "/tiny-hf"  // hidden_act "quick_gelu" in both towers
        XCTAssertEqual(try CheckpointLoader.load(hf).config.activation, .quickGELU)
        XCTAssertEqual(try CheckpointLoader.load(hf, options: CheckpointOptions(activation: .quickGELU)).config.activation, .quickGELU)
        let message = conflict(hf, CheckpointOptions(activation: .gelu))
        XCTAssertEqual(message, "--activation gelu contradicts config '\(hf)/config.json', which says hidden_act 'quick_gelu'; drop --activation to use the checkpoint's, or add --force-activation to run gelu anyway")
        let forced = try CheckpointLoader.load(hf, options: CheckpointOptions(activation: .gelu, forceActivation: true))
        XCTAssertEqual(forced.config.activation, .gelu)
        // Forcing the activation the config names changes nothing.
        XCTAssertEqual(try CheckpointLoader.load(hf, options: CheckpointOptions(activation: .quickGELU, forceActivation: true)).config.activation, .quickGELU)
    }

    /// HF's save_pretrained leaves out values equal to the class default: no hidden_act means
    /// quick_gelu, which is what transformers runs, so it contradicts --activation gelu too.
    func testHFConfigWithoutHiddenActSaysQuickGELU() throws {
        let dir = try temporaryDirectory()
        for name in try fm.contentsOfDirectory(atPath: fixtures + "/tiny-hf") {
            try fm.copyItem(atPath: fixtures + "/tiny-hf/" + name, toPath: dir + "/" + name)
        }
        let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        let stripped = config.replacingOccurrences(of: "\"hidden_act\": \"quick_gelu\",", with: "")
        XCTAssertNotEqual(stripped, config)
        try stripped.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try CheckpointLoader.load(dir).config.activation, .quickGELU)
        XCTAssertTrue(conflict(dir, CheckpointOptions(activation: .gelu)).contains("leaves hidden_act at transformers' default 'quick_gelu'"))
    }

    func testOpenCLIPConfigDecides() throws {
        let oc = fixtures + "/tiny-openclip"  // "quick_gelu": false
        XCTAssertEqual(try CheckpointLoader.load(oc).config.activation, .gelu)
        XCTAssertEqual(try CheckpointLoader.load(oc, options: CheckpointOptions(activation: .gelu)).config.activation, .gelu)
        let message = conflict(oc, CheckpointOptions(activation: .quickGELU))
        XCTAssertTrue(message.contains("contradicts config '\(oc)/open_clip_config.json', which says model_cfg.quick_gelu false"), message)
        XCTAssertTrue(message.contains("--force-activation"), message)
        XCTAssertEqual(try CheckpointLoader.load(oc, options: CheckpointOptions(activation: .quickGELU, forceActivation: true)).config.activation,
                       .quickGELU)
    }

    /// Without open_clip_config.json nothing contradicts --activation: it decides, as before.
    func testOpenCLIPWithoutConfigTakesTheOption() throws {
        let dir = try temporaryDirectory()
        try fm.copyItem(atPath: fixtures + "/tiny-openclip/open_clip_model.safetensors", toPath: dir + "/open_clip_model.safetensors")
        var config = try String(contentsOfFile: fixtures + "/tiny-openclip/open_clip_config.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"quick_gelu\": false,", with: "")
        try config.write(toFile: dir + "/open_clip_config.json", atomically: true, encoding: .utf8)
        // A config without the key still says something: open_clip's default, gelu.
        XCTAssertTrue(conflict(dir, CheckpointOptions(activation: .quickGELU)).contains("open_clip's default false (gelu)"))
        try fm.removeItem(atPath: dir + "/open_clip_config.json")
        for activation in Activation.allCases {
            // The 32-wide tower then fails on its heads (width/64), after the activation is taken.
            XCTAssertThrowsError(try CheckpointLoader.load(dir, options: CheckpointOptions(activation: activation))) { e in
                guard case .invalidConfig? = e as? ModelError else { return XCTFail("unexpected \(e)") }
            }
        }
    }

    /// A .pclip file runs what it was converted with: another --activation is refused, in one line.
    func testPclipActivationIsFixed() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/m.pclip"
        try PclipConverter.convert(try CheckpointLoader.load(fixtures + "/tiny-hf"), to: path)
        XCTAssertEqual(try CLIPModel.open(path, options: CheckpointOptions(activation: .quickGELU)).config.activation, .quickGELU)
        XCTAssertThrowsError(try CLIPModel.open(path, options: CheckpointOptions(activation: .gelu, forceActivation: true))) { e in
            XCTAssertEqual(e as? CheckpointError, .activationFixed(path: path, asked: .gelu, has: .quickGELU))
            XCTAssertTrue("\(e)".contains("convert the float checkpoint again with --activation gelu"), "\(e)")
        }
    }
}
