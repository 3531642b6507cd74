// Issue 16, item 7, from the command line: `convert` re-stores a .pclip file (docs/board.md's
// `--compress none` command on the bundled model), refuses what would need the float weights,
// and may write over its input; an explicit --activation against a checkpoint's config; an
// index moved together with its folder.

import CorpusSupport
import Foundation
import XCTest

final class RestoreAndMoveCLITests: XCTestCase {
    let fm = FileManager.default

    func scratch() throws -> String { URL(fileURLWithPath: try temporaryDirectory()).resolvingSymlinksInPath().path }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// `inspect --json`'s tensors: name → (dtype, dims, group, compression).
    func tensors(_ model: String) throws -> [[String: Any]] {
        let r = try pocketclip(["inspect", model, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return json?["tensors"] as? [[String: Any]] ?? []
    }

    /// The re-store command of docs/board.md ("Memory-lean settings"), as printed there, with
    /// its output moved into `dir`.
    func boardDocCommand(output dir: String) throws -> [String] {
        let doc = try String(contentsOfFile: repositoryRoot + "/docs/board.md", encoding: .utf8)
        let line = doc.split(separator: "\n").first { $0.hasPrefix("pocketclip convert models/pocketclip-fmnist.pclip") }
        let words = try XCTUnwrap(line, "docs/board.md shows the re-store command").split(separator: "#")[0]
            .split(separator: " ").map(String.init)
        let o = try XCTUnwrap(words.firstIndex(of: "-o"))
        var arguments = Array(words.dropFirst())  // "pocketclip"
        arguments[1] = repositoryRoot + "/" + arguments[1]
        arguments[o] = dir + "/" + words[o]
        return arguments
    }

    func testBoardDocRestoreOfTheBundledModel() throws {
        let dir = try scratch()
        let command = try boardDocCommand(output: dir)
        XCTAssertTrue(command.contains("--compress") && command.contains("none"), "\(command)")
        let raw = command[command.firstIndex(of: "-o")! + 1]
        let r = try pocketclip(command)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(raw): 87 tensors"), r.stdout)
        XCTAssertEqual(directoryContents(dir), [URL(fileURLWithPath: raw).lastPathComponent], "no temporary left")

        // Every weight raw (mapped in place), the tokenizer's text zstd; the rest as before.
        let before = try tensors(defaultModel), after = try tensors(raw)
        XCTAssertEqual(after.count, before.count)
        for (a, b) in zip(before, after) {
            for key in ["name", "dtype", "group_size", "decoded_bytes"] { XCTAssertEqual("\(a[key]!)", "\(b[key]!)", "\(a["name"]!) \(key)") }
            XCTAssertEqual(b["compression"] as? String, b["dtype"] as? String == "bytes" ? "zstd" : "raw", "\(b["name"]!)")
        }
        XCTAssertEqual(try pocketclip(["verify", raw]).status, 0)

        // Back to zstd: the bytes of a direct re-store at the same level.
        XCTAssertEqual(try pocketclip(["convert", raw, "-o", dir + "/back.pclip"]).status, 0)
        XCTAssertEqual(try pocketclip(["convert", defaultModel, "-o", dir + "/direct.pclip"]).status, 0)
        XCTAssertEqual(try bytes(dir + "/back.pclip"), try bytes(dir + "/direct.pclip"))

        // The same model: embeddings of a few example images and a text, byte for byte.
        let inputs = ["bag", "coat", "sneaker"].flatMap { ["--image", exampleImages + "/\($0).png"] } + ["--text", "a photo of a bag."]
        let original = try pocketclip(["embed", defaultModel] + inputs), restored = try pocketclip(["embed", raw] + inputs)
        XCTAssertEqual(original.status, 0, original.stderr)
        XCTAssertEqual(restored.stdout.replacingOccurrences(of: raw, with: defaultModel), original.stdout)
    }

    /// What only the float weights can change is refused in one line that says why and what to
    /// do; the same value as the file's is accepted.
    func testFloatOnlyChoicesRefusedOnAPclip() throws {
        let dir = try scratch()
        for (arguments, mention) in [(["--dtype", "f16"], "was converted with --dtype q8; --dtype f16 needs the float weights"),
                                     (["--activation", "gelu"], "convert the float checkpoint again with --activation gelu"),
                                     (["--group", "64"], "--group 0"),
                                     (["--text-scales", "amax"], "--text-scales mse"),
                                     (["--crop-rounding", "hf"], "--crop-rounding openclip"),
                                     (["--tokenizer", fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"], "carries its own tokenizer")] {
            assertOneLineError(try pocketclip(["convert", defaultModel, "-o", dir + "/x.pclip"] + arguments), mentions: mention)
        }
        XCTAssertEqual(directoryContents(dir), [], "a refused re-store writes nothing")
        let same = try pocketclip(["convert", defaultModel, "-o", dir + "/x.pclip", "--dtype", "q8", "--text-group", "128",
                                   "--activation", "quick_gelu", "--level", "19"])
        XCTAssertEqual(same.status, 0, same.stderr)
    }

    /// OUT = SRC: replaced only once the new file is whole; a damaged SRC stays as it was.
    func testRestoreOntoItself() throws {
        let dir = try scratch(), model = dir + "/m.pclip"
        try fm.copyItem(atPath: defaultModel, toPath: model)
        let r = try pocketclip(["convert", model, "-o", model, "--compress", "none"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(directoryContents(dir), ["m.pclip"])
        XCTAssertEqual(try pocketclip(["verify", model]).status, 0)
        XCTAssertTrue(try tensors(model).contains { $0["compression"] as? String == "raw" })

        var damaged = try bytes(defaultModel)
        damaged[damaged.count - 100] ^= 0x01  // inside the last tensor's payload
        try Data(damaged).write(to: URL(fileURLWithPath: model))
        assertOneLineError(try pocketclip(["convert", model, "-o", model, "--compress", "none"]), mentions: "is corrupt: its CRC-32")
        XCTAssertEqual(try bytes(model), damaged, "the input is left as it was")
        XCTAssertEqual(directoryContents(dir), ["m.pclip"], "no temporary left")
    }

    func testActivationAgainstTheCheckpointConfig() throws {
        let dir = try scratch()
        let hf = fixtures + "/tiny-hf"
        assertOneLineError(try pocketclip(["convert", hf, "-o", dir + "/m.pclip", "--activation", "gelu"]),
                           mentions: "--activation gelu contradicts config '\(hf)/config.json', which says hidden_act 'quick_gelu'; drop --activation to use the checkpoint's, or add --force-activation")
        XCTAssertEqual(directoryContents(dir), [])
        let forced = try pocketclip(["convert", hf, "-o", dir + "/m.pclip", "--activation", "gelu", "--force-activation"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(try pocketclip(["inspect", dir + "/m.pclip"]).stdout.contains(", gelu, "))
        let agreeing = try pocketclip(["convert", fixtures + "/tiny-openclip", "-o", dir + "/oc.pclip", "--activation", "gelu",
                                       "--tokenizer", fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"])
        XCTAssertEqual(agreeing.status, 0, agreeing.stderr)
        // The check runs wherever a checkpoint is opened, and a .pclip's activation is fixed.
        assertOneLineError(try pocketclip(["embed", fixtures + "/tiny-openclip", "--activation", "quick_gelu",
                                           "--image", fixtures + "/tiny-openclip/images/rgb_40x54.png"]),
                           mentions: "which says model_cfg.quick_gelu false")
        assertOneLineError(try pocketclip(["embed", dir + "/oc.pclip", "--activation", "quick_gelu",
                                           "--image", fixtures + "/tiny-openclip/images/rgb_40x54.png"]),
                           mentions: "runs gelu, fixed when it was converted")
        let alone = try pocketclip(["convert", hf, "-o", dir + "/n.pclip", "--force-activation"])
        XCTAssertNotEqual(alone.status, 0)
        XCTAssertTrue(alone.stderr.contains("--force-activation needs --activation"), alone.stderr)
    }

    /// A folder and its index side by side, moved together: `index query` finds the same images
    /// (paths as stored, relative to the folder; the header and "root" name its new place), and
    /// `index build` continues it without embedding anything.
    func testIndexMovedWithItsFolder() throws {
        let dir = try scratch()
        try fm.createDirectory(atPath: dir + "/a/photos", withIntermediateDirectories: true)
        for name in ["bag", "coat", "sneaker", "sandal"] {
            try fm.copyItem(atPath: exampleImages + "/\(name).png", toPath: dir + "/a/photos/\(name).png")
        }
        let build = try pocketclip(["index", "build", defaultModel, dir + "/a/photos", "-o", dir + "/a/photos.index"])
        XCTAssertEqual(build.status, 0, build.stderr)
        let query = ["--text", "a photo of a sneaker.", "--top-k", "0", "--json"]
        let before = try pocketclip(["index", "query", defaultModel, dir + "/a/photos.index"] + query)
        try fm.moveItem(atPath: dir + "/a", toPath: dir + "/b")

        let after = try pocketclip(["index", "query", defaultModel, dir + "/b/photos.index"] + query)
        XCTAssertEqual(after.status, 0, after.stderr)
        XCTAssertEqual(after.stdout, before.stdout.replacingOccurrences(of: dir + "/a/photos", with: dir + "/b/photos"))
        XCTAssertTrue(after.stdout.contains("\"root\": \"\(dir)/b/photos\""), after.stdout)
        XCTAssertEqual(try ranked(after).first?.path, "sneaker.png")
        let table = try pocketclip(["index", "query", defaultModel, dir + "/b/photos.index", "--text", "a bag", "--top-k", "1"])
        XCTAssertTrue(table.stdout.hasPrefix("text: \"a bag\"  (4 images under \(dir)/b/photos)\n1. "), table.stdout)
        let again = try pocketclip(["index", "build", defaultModel, dir + "/b/photos", "-o", dir + "/b/photos.index"])
        XCTAssertEqual(again.stdout, "\(dir)/b/photos.index is up to date: 4 images (0 embedded, 4 already indexed, 0 removed)\n", again.stderr)
    }

    /// An index in the version-1 format (absolute root), as the version-1 writer made it.
    func testVersion1IndexReads() throws {
        let info = try pocketclip(["index", "info", repositoryRoot + "/Fuzz/corpus/FuzzIndex/version-1-absolute-root.index", "--list"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains(": 3 images under /photos/été, dim 4"), info.stdout)
        XCTAssertTrue(info.stdout.contains("  dir 0/img-0.png\n"), info.stdout)
    }
}
