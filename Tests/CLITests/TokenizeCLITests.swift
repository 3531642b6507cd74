// `pocketclip tokenize`: the ids equal open_clip's (the tokenizer goldens, made by
// tools/goldens/tokenizer-goldens.py), the pieces are the vocabulary's, the count is checked
// against the model's own context (20 for the bundled model), and the JSON has its documented shape.

import CorpusSupport
import Foundation
import XCTest

final class TokenizeCLITests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var model: String { root + "/models/pocketclip-fmnist.pclip" }

    func tokenizeJSON(_ arguments: [String], stdin: Data? = nil) throws -> [String: Any] {
        let r = try pocketclip(["tokenize", model, "--json"] + arguments, stdin: stdin)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    func testIdsAreOpenCLIPs() throws {
        let goldens = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/tokenizer/goldens.json"))) as? [String: Any]
        // Texts an argument can carry: one line (a --text is one argument), no NUL (argv is C
        // strings). The library tests cover the rest.
        let cases = (goldens?["cases"] as? [[String: Any]] ?? []).filter {
            let text = $0["text"] as? String ?? ""
            return !text.isEmpty && !text.contains(where: \.isNewline) && !text.unicodeScalars.contains("\0")
        }
        XCTAssertGreaterThan(cases.count, 20)
        let doc = try tokenizeJSON(cases.flatMap { ["--text", $0["text"] as! String] })
        XCTAssertEqual(doc["context"] as? Int, 20)
        let texts = doc["texts"] as? [[String: Any]] ?? []
        XCTAssertEqual(texts.count, cases.count)
        for (golden, got) in zip(cases, texts) {
            let expected = [49406] + (golden["encode"] as! [Int]) + [49407]  // untruncated: SOT … EOT
            // (Foundation's JSON reader drops a U+FEFF the output holds; the ids show it was read.)
            XCTAssertEqual((got["text"] as? String)?.filter { $0 != "\u{FEFF}" }, (golden["text"] as? String)?.filter { $0 != "\u{FEFF}" })
            XCTAssertEqual(got["ids"] as? [Int], expected, "\(golden["text"]!)")
            XCTAssertEqual(got["count"] as? Int, expected.count)
            XCTAssertEqual(got["fits"] as? Bool, expected.count <= 20)
            XCTAssertEqual((got["pieces"] as? [String])?.count, expected.count)
        }
    }

    func testPiecesAndTheTableMarkTheCut() throws {
        let doc = try tokenizeJSON(["--text", "a photo of a cat"])
        let first = (doc["texts"] as? [[String: Any]])?.first
        XCTAssertEqual(first?["pieces"] as? [String], ["<|startoftext|>", "a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>", "<|endoftext|>"])

        // 21 one-letter words: 23 tokens against a context of 20.
        let long = "a b c d e f g h i j k l m n o p q r s t u"
        let r = try pocketclip(["tokenize", model, "--text", long])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "\"\(long)\": 23 tokens of the model's 20; too long: refused, or cut to 20 with --truncate")
        XCTAssertEqual(lines.count, 1 + 23)
        XCTAssertTrue(lines[20].hasSuffix("(becomes the end token with --truncate)"), lines[20])
        XCTAssertEqual(lines.filter { $0.hasSuffix("(cut)") }.count, 3)
    }

    /// --texts-file reads any line end and a BOM (the shared text-input helper), "-" is stdin.
    func testTextsFromAFile() throws {
        let bytes = Data([0xEF, 0xBB, 0xBF]) + Data("a photo of a cat\r\n\r\nsneaker\r\n".utf8)
        let doc = try tokenizeJSON(["--texts-file", "-"], stdin: bytes)
        XCTAssertEqual(strings(doc["texts"], "text"), ["a photo of a cat", "sneaker"])
        assertOneLineError(try pocketclip(["tokenize", model]), mentions: "--text")
    }
}
