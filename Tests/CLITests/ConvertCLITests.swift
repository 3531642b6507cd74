// `pocketclip convert`, `inspect` and `verify` as a user runs them, and the promise that an
// interrupted or failed conversion never leaves a partial file at the output path.

import CorpusSupport
import Foundation
import XCTest

final class ConvertCLITests: XCTestCase {
    let model = fixtures + "/tiny-openclip"
    let tokenizer = fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"
    let fm = FileManager.default

    func scratch() throws -> String {
        let dir = try temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// Files in `dir` (hidden temporaries included).
    func contents(_ dir: String) -> [String] { ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    func testConvertInspectVerifyClassify() throws {
        let dir = try scratch(), out = dir + "/m.pclip"
        let r = try pocketclip(["convert", model, "--tokenizer", tokenizer, "-o", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let size = try fm.attributesOfItem(atPath: out)[.size] as! Int
        XCTAssertEqual(summary["file_bytes"] as? Int, size)
        XCTAssertEqual(summary["tensors"] as? Int, 63)
        XCTAssertEqual(contents(dir), ["m.pclip"], "no temporary file left behind")
        XCTAssertEqual(r.stderr, "", "no progress bar when stderr is not a terminal")

        let v = try pocketclip(["verify", out])
        XCTAssertEqual(v.status, 0, v.stderr)
        XCTAssertTrue(v.stdout.contains("OK"))
        let i = try pocketclip(["inspect", out, "--json", "--load"])
        XCTAssertEqual(i.status, 0, i.stderr)
        let inspected = try JSONSerialization.jsonObject(with: Data(i.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((inspected["tensors"] as! [Any]).count, 63)
        XCTAssertEqual(inspected["file_bytes"] as? Int, size)
        XCTAssertNotNil((inspected["memory"] as? [String: Any])?["peak_rss_bytes"])
        let text = try pocketclip(["inspect", out])
        XCTAssertTrue(text.stdout.contains("vision.blocks.0.attn.qkv.weight"), text.stdout)

        // The .pclip file carries the tokenizer: no --tokenizer needed any more.
        let c = try pocketclip(["classify", out, model + "/images/rgb_40x54.png", "--labels", "cat,dog"])
        XCTAssertEqual(c.status, 0, c.stderr)
    }

    func testCorruptSafetensorsLeavesNothing() throws {
        let dir = try scratch()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model + "/open_clip_model.safetensors")))
        bytes[0] = 0xFF; bytes[1] = 0xFF; bytes[2] = 0xFF  // header length far past the end
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/open_clip_model.safetensors"))
        try fm.copyItem(atPath: model + "/open_clip_config.json", toPath: dir + "/open_clip_config.json")
        let out = dir + "/out/m.pclip"
        try fm.createDirectory(atPath: dir + "/out", withIntermediateDirectories: false)
        let r = try pocketclip(["convert", dir, "--tokenizer", tokenizer, "-o", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("corrupt safetensors header"), r.stderr)
        XCTAssertEqual(contents(dir + "/out"), [])
    }

    func testFailedConversionKeepsThePreviousFile() throws {
        let dir = try scratch(), out = dir + "/m.pclip"
        try Data("previous model".utf8).write(to: URL(fileURLWithPath: out))
        // No tokenizer for an OpenCLIP text tower: refused, and the old file is untouched.
        let r = try pocketclip(["convert", model, "-o", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--tokenizer"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "previous model")
        XCTAssertEqual(contents(dir), ["m.pclip"])
    }

    func testMissingOutputDirectory() throws {
        let r = try pocketclip(["convert", model, "--tokenizer", tokenizer, "-o", "/nonexistent-dir/m.pclip"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/nonexistent-dir/m.pclip"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
    }

    /// Starts a conversion, waits until its temporary file exists, then sends `signal`.
    func interrupt(with signal: Int32) throws -> (dir: String, status: Int32, reason: Process.TerminationReason) {
        let dir = try scratch()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pocketclipPath())
        // f32 with zstd at a high level: slow enough to be caught mid-conversion (10.6 s in a
        // debug build on an Intel Xeon @ 2.80GHz). The temporary is created before the first
        // tensor is compressed and polled every 2 ms, so the signal misses the conversion only if
        // this thread stalls for the whole compression.
        process.arguments = ["convert", model, "--tokenizer", tokenizer, "-o", dir + "/m.pclip", "--dtype", "f32", "--level", "19"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !contents(dir).contains(where: { $0.hasPrefix(".m.pclip.tmp-") }) && process.isRunning && Date() < deadline {
            usleep(2_000)
        }
        XCTAssertTrue(process.isRunning, "the conversion finished before it could be interrupted")
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return (dir, process.terminationStatus, process.terminationReason)
    }

    func testInterruptedConversionLeavesNothing() throws {
        for s in [SIGINT, SIGTERM] {
            let (dir, status, reason) = try interrupt(with: s)
            XCTAssertEqual(reason, .uncaughtSignal, "signal \(s)")
            XCTAssertEqual(status, s)
            XCTAssertEqual(contents(dir), [], "signal \(s): no output and no temporary file")
        }
    }

    func testKilledConversionLeavesNoPartialOutput() throws {
        // SIGKILL cannot be caught: the temporary may stay, but the target path never exists.
        let (dir, _, reason) = try interrupt(with: SIGKILL)
        XCTAssertEqual(reason, .uncaughtSignal)
        XCTAssertFalse(contents(dir).contains("m.pclip"))
        // The next conversion to the same target removes what the killed one left; a temporary
        // of a process that is alive (this test's) is not touched.
        let live = ".m.pclip.tmp-\(getpid())"
        try Data("another writer's".utf8).write(to: URL(fileURLWithPath: dir + "/" + live))
        let r = try pocketclip(["convert", model, "--tokenizer", tokenizer, "-o", dir + "/m.pclip"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(contents(dir), [live, "m.pclip"].sorted())
    }

    /// Mounts a tmpfs at a fresh directory (root only); skips where mounting is not allowed.
    func mountTmpfs(_ options: String) throws -> String { try mountSmallTmpfs(options, for: self) }

    func testDiskFullLeavesNothing() throws {
        let dir = try mountTmpfs("size=512k")  // the converted model is ~2 MB
        let r = try pocketclip(["convert", model, "--tokenizer", tokenizer, "-o", dir + "/m.pclip"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("No space left"), r.stderr)
        XCTAssertEqual(contents(dir), [])
    }

    func testReadOnlyTargetFailsBeforeConverting() throws {
        let dir = try mountTmpfs("ro,size=64k")
        let r = try pocketclip(["convert", model, "--tokenizer", tokenizer, "-o", dir + "/m.pclip"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("Read-only"), r.stderr)
        XCTAssertEqual(contents(dir), [])
    }
}
