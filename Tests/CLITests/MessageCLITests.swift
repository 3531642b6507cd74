// Messages that say what was found and what to do (issue 16, item 6): argument mistakes in one
// line, a file given where another kind is expected named with what it is, the recipe's own
// names in train's limits, singular counts; and the hint to convert a float model.

import CorpusSupport
import Foundation
import XCTest

final class MessageCLITests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var model: String { root + "/models/pocketclip-fmnist.pclip" }
    var image: String { root + "/examples/images/bag.png" }

    /// ArgumentParser's own errors and the commands' validate() ones: one line, exit 64, the
    /// problem and the help to read.
    func testArgumentErrorsAreOneLine() throws {
        let cases: [([String], String)] = [
            (["classify", model, image, "--labels", "a", "--top-k", "-1"], "error: --top-k must be 0 (all) or positive, got -1 (see 'pocketclip classify --help')"),
            (["classify", model, image, "--labels", "a", "--bogus"], "error: unknown option '--bogus' (see 'pocketclip classify --help')"),
            (["classify"], "error: missing expected argument '<model>' (see 'pocketclip classify --help')"),
            (["classify", model, image, "--labels", "a", "--threads", "abc"], "error: the value 'abc' is invalid for '--threads <n>' (see 'pocketclip classify --help')"),
            (["classify", model, image, "--labels", "a", "--threads", "0"], "--threads must be in 1..."),
            (["index", "build", model], "error: missing expected argument '<folder>' (see 'pocketclip index build --help')"),
            (["nosuch"], "error: unexpected argument 'nosuch' (see 'pocketclip --help')"),
            (["embed", model], "error: give at least one --image or --text (see 'pocketclip embed --help')"),
        ]
        for (arguments, expected) in cases {
            let r = try pocketclip(arguments)
            XCTAssertEqual(r.status, 64, "\(arguments): \(r.stderr)")
            assertOneLineError(r, mentions: expected)
        }
        // Help stays whole, on stdout, exit 0.
        let help = try pocketclip(["classify", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("USAGE:") && help.stdout.contains("--keep-going"), help.stdout)
    }

    func testWrongFilesAsModelSayWhatTheyAre() throws {
        let dir = try temporaryDirectory()
        let badMagic = dir + "/damaged.pclip"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model)).prefix(4096))
        bytes[1] = 0x51  // "\x89QCLIP…"
        try Data(bytes).write(to: URL(fileURLWithPath: badMagic))
        let jpeg = dir + "/photo.jpg"
        try Data([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0, count: 60)).write(to: URL(fileURLWithPath: jpeg))
        let head = dir + "/classes.head", index = dir + "/photos.index", folder = dir + "/photos"
        XCTAssertEqual(try pocketclip(["head", "build", model, "--labels", "bag", "-o", head]).status, 0)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: image, toPath: folder + "/bag.png")
        XCTAssertEqual(try pocketclip(["index", "build", model, folder, "-o", index]).status, 0)

        let cases: [(String, String)] = [
            (image, "'\(image)' is not a CLIP checkpoint PocketCLIP can read: it is a PNG image; MODEL is a .pclip file"),
            (jpeg, "it is a JPEG image; MODEL is"),
            (badMagic, "it is named .pclip but does not start with the .pclip magic 89 50 43 4C 49 50 0D 0A (first bytes: 89 51 43 4C 49 50 0D 0A)"),
            (index, "it is an embedding index (from pocketclip index build), not a model"),
            (head, "'\(head)' is a class head (from pocketclip head build), not a model"),
        ]
        for (path, expected) in cases {
            let r = try pocketclip(["classify", path, image, "--labels", "a,b"])
            assertOneLineError(r, mentions: expected)
            XCTAssertFalse(r.stderr.contains("header bytes"), r.stderr)
        }
        assertOneLineError(try pocketclip(["classify", model, image, "--head", index]),
                           mentions: "'\(index)' is not a class head: it is an embedding index")
        assertOneLineError(try pocketclip(["classify", model, image, "--head", model]),
                           mentions: "'\(model)' is not a class head file: it is a model")
        assertOneLineError(try pocketclip(["index", "query", model, head, "--text", "a bag"]),
                           mentions: "'\(head)' is not an embedding index: it is a .pclip file (a model or a class head)")
    }

    /// convert, inspect and verify name a file that is not what they read, and say what it is.
    func testConvertInspectVerifySayWhatAFileIs() throws {
        let dir = try temporaryDirectory()
        assertOneLineError(try pocketclip(["convert", image, "-o", dir + "/m.pclip"]), mentions: "'\(image)' is not a CLIP checkpoint PocketCLIP can read: it is a PNG image")
        for command in ["inspect", "verify"] {
            assertOneLineError(try pocketclip([command, image]), mentions: "'\(image)' is not a .pclip file: it is a PNG image")
        }
        let cut = dir + "/cut.pclip"
        try Data(try Data(contentsOf: URL(fileURLWithPath: model)).prefix(100)).write(to: URL(fileURLWithPath: cut))
        assertOneLineError(try pocketclip(["verify", cut]), mentions: "'\(cut)': ")
        assertOneLineError(try pocketclip(["classify", cut, image, "--labels", "a"]), mentions: "'\(cut)': ")
    }

    /// A binary labels file is refused as not UTF-8 text (not "label '\u{FFFD}' is given twice").
    func testBinaryLabelsFile() throws {
        let dir = try temporaryDirectory()
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0A, 0xFF, 0xFE, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: dir + "/labels.txt"))
        assertOneLineError(try pocketclip(["classify", model, image, "--labels-file", dir + "/labels.txt"]),
                           mentions: "line 1 of '\(dir)/labels.txt' holds bytes that are not UTF-8")
    }

    func testTrainLimitsUseTheRecipesNames() throws {
        let dir = try temporaryDirectory()
        try writeTinyFashionMNIST(dir)
        let r = try pocketclip(["train", "-o", dir + "/run", "--tokenizer", fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz",
                                "--fashion-mnist", dir, "--set", "image_size=100000"])
        if r.stderr.contains("unexpected argument 'train'") { throw XCTSkip("built without the Training trait") }
        assertOneLineError(r, mentions: "image_size is 100000; this trainer accepts at most 4096")
        XCTAssertFalse(r.stderr.contains("imageSize"), r.stderr)
    }

    func testCountsOfOneAreSingular() throws {
        let dir = try temporaryDirectory()
        let r = try pocketclip(["head", "build", model, "--labels", "bag", "-o", dir + "/one.head"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix(": 1 class × 1 template\n"), r.stdout)
    }

    /// More than 8 images through a float checkpoint: one hint line on stderr, stdout untouched;
    /// none for 8, none for the q8 model.
    func testFloatModelHint() throws {
        let float = fixtures + "/tiny-hf"
        let nine = [String](repeating: image, count: 9)
        let r = try pocketclip(["classify", float] + nine + ["--labels", "a,b", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("hint: '\(float)' holds float weights") && r.stderr.contains("pocketclip convert"), r.stderr)
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)), r.stdout)
        let embed = try pocketclip(["embed", float] + nine.flatMap { ["--image", $0] })
        XCTAssertTrue(embed.stderr.hasPrefix("hint: "), embed.stderr)
        XCTAssertEqual(try pocketclip(["classify", float] + nine.dropLast() + ["--labels", "a,b"]).stderr, "")
        XCTAssertEqual(try pocketclip(["classify", model] + nine + ["--labels", "a,b"]).stderr, "")
    }
}
