// `pocketclip train` and `pocketclip eval` end to end on a tiny recipe and a tiny synthetic
// Fashion-MNIST (IDX files written here): outputs, --resume, refusals, Ctrl-C, and the trained
// checkpoint going through `convert` and `embed` like any real one.

import CorpusSupport
import Foundation
import XCTest

final class TrainCLITests: XCTestCase {
    let tokenizer = fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"
    /// A recipe small enough to train in a second.
    let tiny = tinyTrainRecipe

    /// Writes train (40) and t10k (20) IDX pairs of 28×28 images, every class present, into `dir`.
    func writeFashionMNIST(_ dir: String) throws { try writeTinyFashionMNIST(dir) }

    func testTrainResumeConvertEmbedEval() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeFashionMNIST(dir)
        let out = dir + "/run"
        let common = ["train", "-o", out, "--tokenizer", tokenizer, "--fashion-mnist", dir, "--eval-images", "10", "--threads", "1"]
        let r = try pocketclip(common + tiny)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("step 3/6"), r.stdout)
        XCTAssertTrue(r.stdout.contains("zero-shot"), r.stdout)
        XCTAssertTrue(r.stdout.contains("done: 6 steps"), r.stdout)
        for file in ["checkpoint.ckpt", "curve.csv", "curve.svg", "model/model.safetensors", "model/config.json",
                     "model/preprocessor_config.json", "model/vocab.json", "model/merges.txt"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        let csv = try String(contentsOfFile: out + "/curve.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "step,loss,learning_rate,images_per_second,zero-shot,held-out")
        XCTAssertEqual(csv.count, 1 + 2)  // steps 3 and 6 (log every 25, evaluation every 3)

        // The directory exists with a run in it: refused without --resume; a finished run resumes to its end.
        let again = try pocketclip(common + tiny)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--resume"), again.stderr)
        let resumed = try pocketclip(common + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming at step 6/6"), resumed.stdout)
        let mismatch = try pocketclip(common + ["--resume", "--set", "steps=9"])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stderr.contains("another recipe"), mismatch.stderr)

        // The export is a checkpoint like any other: convert (f32 and q8) and embed.
        let pclip = dir + "/m.pclip"
        let conv = try pocketclip(["convert", out + "/model", "-o", pclip])
        XCTAssertEqual(conv.status, 0, conv.stderr)
        let fromDir = try pocketclip(["embed", out + "/model", "--text", "a photo of a red sneaker."])
        let f32 = dir + "/m32.pclip"
        XCTAssertEqual(try pocketclip(["convert", out + "/model", "-o", f32, "--dtype", "f32"]).status, 0)
        let fromF32 = try pocketclip(["embed", f32, "--text", "a photo of a red sneaker."])
        XCTAssertEqual(fromDir.status, 0, fromDir.stderr)
        func texts(_ r: RunResult) throws -> [Double] {
            let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return ((o?["texts"] as? [[String: Any]])?.first?["embedding"] as? [Double]) ?? []
        }
        XCTAssertEqual(try texts(fromDir), try texts(fromF32), "an f32 .pclip embeds exactly like the checkpoint it came from")
        XCTAssertEqual(try texts(fromDir).count, 16)
        let fromQ8 = try pocketclip(["embed", pclip, "--text", "a photo of a red sneaker."])
        XCTAssertEqual(fromQ8.status, 0, fromQ8.stderr)

        // eval: both models side by side.
        let ev = try pocketclip(["eval", out + "/model", pclip, "--fashion-mnist", dir, "--test-images", "20",
                                 "--held-out-per-pair", "1", "--probe-images", "50", "--threads", "1"])
        XCTAssertEqual(ev.status, 0, ev.stderr)
        XCTAssertTrue(ev.stdout.contains("difference (2nd − 1st)"), ev.stdout)
        let evJSON = try pocketclip(["eval", out + "/model", "--fashion-mnist", dir, "--test-images", "20",
                                     "--held-out-per-pair", "1", "--probe-images", "0", "--json"])
        XCTAssertEqual(evJSON.status, 0, evJSON.stderr)
        let parsed = try JSONSerialization.jsonObject(with: Data(evJSON.stdout.utf8)) as? [String: Any]
        let results = parsed?["results"] as? [[String: Any]]
        XCTAssertEqual(results?.count, 1)
        XCTAssertNotNil(results?.first?["zero_shot"] as? Double)
    }

    /// A user's folder of pairs (the shipped example): bad rows reported and skipped, the model
    /// trained, converted and used to classify.
    func testTrainOnFolderExample() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let example = fixtures + "/../../examples/train-your-own"
        let r = try pocketclip(["train", "-o", dir + "/run", "--tokenizer", tokenizer, "--captions", example + "/captions.tsv",
                                "--config", example + "/recipe.json", "--set", "steps=20", "--set", "eval_every=10", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("32 pairs from 30 images; 4 rows skipped"), r.stdout)
        for reason in ["missing image", "empty caption", "undecodable image", "malformed row"] {
            XCTAssertTrue(r.stdout.contains(reason), reason)
        }
        XCTAssertTrue(r.stdout.contains("image→text top-1"), r.stdout)
        XCTAssertTrue(r.stdout.contains("done: 20 steps"), r.stdout)
        let pclip = dir + "/shapes.pclip"
        XCTAssertEqual(try pocketclip(["convert", dir + "/run/model", "-o", pclip]).status, 0)
        let c = try pocketclip(["classify", pclip, example + "/images/large-red-circle.png", "--labels", "red circle,blue square"])
        XCTAssertEqual(c.status, 0, c.stderr)
        // A captions file with no usable row is an error, not an empty training run.
        let bad = dir + "/bad.tsv"
        try Data("image\tcaption\nnothere.png\ta thing\n".utf8).write(to: URL(fileURLWithPath: bad))
        let e = try pocketclip(["train", "-o", dir + "/run2", "--tokenizer", tokenizer, "--captions", bad])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertEqual(e.stderr.split(separator: "\n").count, 1, e.stderr)
    }

    func testTrainRefusesBadInput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func refused(_ args: [String], mentions: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try pocketclip(["train", "-o", dir + "/out", "--tokenizer", tokenizer] + args)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
            XCTAssertTrue(r.stderr.contains(mentions), "'\(r.stderr)' should mention '\(mentions)'", file: file, line: line)
        }
        try refused(["--set", "stepz=3"], mentions: "unknown recipe key")
        try refused(["--set", "steps"], mentions: "key=value")
        try refused(["--fashion-mnist", dir + "/nothing"], mentions: "dataset-fashion-mnist")
        try refused(["--resume"], mentions: "checkpoint")
        let config = dir + "/bad.json"
        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: config))
        try refused(["--config", config], mentions: "JSON object")
        try writeFashionMNIST(dir)
        // A context too short for the captions is named with the caption, not cut silently.
        try refused(["--fashion-mnist", dir] + tiny + ["--set", "context_length=8"], mentions: "context_length is 8")
    }

    /// Ctrl-C: the run stops after its current step, saves, and says how to continue.
    func testInterruptSavesAndResumes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeFashionMNIST(dir)
        let out = dir + "/run"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pocketclipPath())
        process.arguments = ["train", "-o", out, "--tokenizer", tokenizer, "--fashion-mnist", dir, "--eval-images", "10",
                             "--threads", "1", "--log-every", "1"] + tiny + ["--set", "steps=1000000", "--set", "eval_every=1000000",
                                                                           "--set", "checkpoint_every=1000000"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = Pipe()
        try process.run()
        // Wait for the first progress line, then interrupt.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("step 2/") {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        kill(process.processIdentifier, SIGINT)
        seen += stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: seen, as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 130, text)
        XCTAssertTrue(text.contains("stopped at step"), text)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/checkpoint.ckpt"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint.ckpt.tmp"), "no half-written checkpoint left")
        // The saved state loads: a resumed run reports where it continues from.
        let r = try pocketclip(["train", "-o", out, "--tokenizer", tokenizer, "--fashion-mnist", dir, "--resume", "--set", "steps=1"])
        XCTAssertTrue(r.stderr.contains("another recipe"), r.stderr)
    }
}
