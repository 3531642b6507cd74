// The `pocketclip` executable end to end: run as a user would, check stdout, stderr and the
// exit status. Bad input must give one line on stderr and a non-zero exit.

import CorpusSupport
import Foundation
import XCTest

struct RunResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// The built `pocketclip` next to the test bundle.
func pocketclipPath() -> String {
    var dir = Bundle.main.bundleURL
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("pocketclip").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    fatalError("pocketclip executable not found near \(Bundle.main.bundleURL.path); build it first")
}

func pocketclip(_ arguments: [String], stdin: Data? = nil) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: pocketclipPath())
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    if stdin != nil { process.standardInput = input }
    try process.run()
    if let stdin {  // small inputs only: the pipe holds them before the process reads
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(status: process.terminationStatus,
                     stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

final class CLIErrorTests: XCTestCase {
    let model = fixtures + "/tiny-openclip"
    /// OpenCLIP checkpoints carry no vocabulary: the standard one from the open_clip wheel.
    let tokenizer = fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"
    var image: String { fixtures + "/tiny-openclip/images/rgb_40x54.png" }


    func testMissingModel() throws {
        assertOneLineError(try pocketclip(["classify", "/nonexistent/model", image, "--labels", "a,b"]), mentions: "does not exist")
        assertOneLineError(try pocketclip(["embed", "/nonexistent/model", "--text", "x"]), mentions: "does not exist")
    }

    func testMissingImage() throws {
        assertOneLineError(try pocketclip(["classify", model, "--tokenizer", tokenizer, "/nonexistent/cat.png", "--labels", "a,b"]), mentions: "/nonexistent/cat.png")
    }

    func testUndecodableImage() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bogus = dir + "/not-an-image.png"
        try Data("this is text, not a PNG".utf8).write(to: URL(fileURLWithPath: bogus))
        assertOneLineError(try pocketclip(["embed", model, "--tokenizer", tokenizer, "--image", bogus]), mentions: "not-an-image.png")
        assertOneLineError(try pocketclip(["classify", model, "--tokenizer", tokenizer, bogus, "--labels", "a,b"]), mentions: "not-an-image.png")
    }

    func testCorruptSafetensorsHeader() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model + "/open_clip_model.safetensors")).prefix(4096))
        bytes[8] = UInt8(ascii: "X")  // the header's opening brace
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/open_clip_model.safetensors"))
        try FileManager.default.copyItem(atPath: model + "/open_clip_config.json", toPath: dir + "/open_clip_config.json")
        assertOneLineError(try pocketclip(["embed", dir, "--text", "a cat"]), mentions: "corrupt safetensors header")
    }

    /// --threads is capped (4 × the cores, 256 at most): 100,000 once made 27,192 threads and
    /// 1.9 GB before it was killed. Refused before any model is read.
    func testThreadsBeyondTheCapAreRefused() throws {
        for n in ["0", "1000", "100000"] {
            let r = try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels", "cat,dog", "--threads", n])
            XCTAssertNotEqual(r.status, 0, n)
            XCTAssertEqual(r.stdout, "", n)
            XCTAssertTrue(r.stderr.contains("--threads must be in 1..."), r.stderr)
        }
        let ok = try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels", "cat,dog", "--threads", "2"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    /// --version names the release, the format it reads and the int8 kernels this CPU dispatches.
    func testVersionNamesTheKernels() throws {
        let r = try pocketclip(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("pocketclip ") && r.stdout.contains(".pclip format 1.") && r.stdout.contains("int8 kernels: "), r.stdout)
    }

    /// A negative --top-k is a range error, not "Missing value" (ArgumentParser read -1 as an option).
    func testNegativeTopKIsARangeError() throws {
        let r = try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels", "cat,dog", "--top-k", "-1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--top-k must be 0 (all) or positive"), r.stderr)
    }

    func testEmptyLabelList() throws {
        assertOneLineError(try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels", ""]), mentions: "label")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("\n  \n".utf8).write(to: URL(fileURLWithPath: dir + "/labels.txt"))
        assertOneLineError(try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels-file", dir + "/labels.txt"]), mentions: "empty")
    }

    func testDuplicateLabelsAndBadTemplate() throws {
        assertOneLineError(try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels", "cat,cat"]), mentions: "twice")
        assertOneLineError(try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels", "cat,dog", "--template", "a photo"]), mentions: "{}")
        // A templates file of blank lines is refused, not silently replaced by the default template.
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("\n   \n\n".utf8).write(to: URL(fileURLWithPath: dir + "/templates.txt"))
        assertOneLineError(try pocketclip(["classify", model, "--tokenizer", tokenizer, image, "--labels", "cat,dog",
                                           "--templates-file", dir + "/templates.txt"]), mentions: "holds no template")
    }

    func testTextPastContextLength() throws {
        let long = Array(repeating: "word", count: 100).joined(separator: " ")
        assertOneLineError(try pocketclip(["embed", model, "--tokenizer", tokenizer, "--text", long]), mentions: "77")
        let r = try pocketclip(["embed", model, "--tokenizer", tokenizer, "--text", long, "--truncate"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}
