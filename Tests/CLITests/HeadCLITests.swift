// Class heads and prompt templates from the command line, and their bad inputs.

import CorpusSupport
import Foundation
import XCTest

final class HeadCLITests: XCTestCase {
    let tokenizer = fixtures + "/tokenizer/bpe_simple_vocab_16e6.txt.gz"
    let image = fixtures + "/tiny-openclip/images/rgb_40x54.png"

    func convert(_ dir: String, _ out: String, extra: [String] = []) throws {
        let r = try pocketclip(["convert", fixtures + "/" + dir, "-o", out] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testHeadGivesTheSameScoresAsTheTextTower() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try convert("tiny-openclip", dir + "/m.pclip", extra: ["--tokenizer", tokenizer])
        let labels = "cat,red square,two dogs,empty street"
        let build = try pocketclip(["head", "build", dir + "/m.pclip", "--labels", labels, "--ensemble", "-o", dir + "/h.head"])
        XCTAssertEqual(build.status, 0, build.stderr)
        let viaHead = try pocketclip(["classify", dir + "/m.pclip", image, "--head", dir + "/h.head", "--json", "--top-k", "0"])
        let viaText = try pocketclip(["classify", dir + "/m.pclip", image, "--labels", labels, "--ensemble", "--json", "--top-k", "0"])
        XCTAssertEqual(viaHead.status, 0, viaHead.stderr)
        XCTAssertEqual(viaHead.stdout, viaText.stdout, "the head holds exactly what the text tower computes")
    }

    func testHeadFromAnotherModelIsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try convert("tiny-openclip", dir + "/a.pclip", extra: ["--tokenizer", tokenizer])
        try convert("tiny-hf", dir + "/b.pclip")
        XCTAssertEqual(try pocketclip(["head", "build", dir + "/a.pclip", "--labels", "x,y", "-o", dir + "/a.head"]).status, 0)
        let r = try pocketclip(["classify", dir + "/b.pclip", image, "--head", dir + "/a.head"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("another model"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        let notHead = try pocketclip(["classify", dir + "/b.pclip", image, "--head", dir + "/a.pclip"])
        XCTAssertTrue(notHead.stderr.contains("not a class head"), notHead.stderr)
    }

    func testBadLabelsAndTemplates() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try convert("tiny-hf", dir + "/m.pclip")
        let m = dir + "/m.pclip"
        for (args, expected) in [
            (["--labels", ""], "empty"),
            (["--labels", "cat,dog,cat"], "twice"),
            (["--labels", "cat,dog", "--template", "a photo of {} and {}"], "{}"),
            (["--labels", "cat,dog", "--template", "no placeholder"], "{}"),
            (["--labels", "cat,dog", "--template", "a {}", "--template", "a {}"], "twice"),
        ] {
            for command in [["classify", m, image], ["head", "build", m, "-o", dir + "/h.head"]] {
                let r = try pocketclip(command + args)
                XCTAssertNotEqual(r.status, 0, "\(command) \(args)")
                XCTAssertTrue(r.stderr.contains(expected), "\(args): \(r.stderr)")
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/h.head"), "no head written on bad input")
    }
}
