// Captions-file parsing: TSV (headers, relative paths, CRLF, blank lines, BOM, field counts)
// and JSONL (keys, invalid lines), every bad row kept with its line and reason.

import CLIPTrainData
import Foundation
import XCTest

final class CaptionFileTests: XCTestCase {
    func parse(_ text: String, _ format: CaptionFormat) -> CaptionFile {
        CaptionFile.parse(bytes: Array(text.utf8), format: format, baseDirectory: "/data/set")
    }

    func testTSVWithHeaderRelativePathsCRLFAndBlankLines() {
        let f = parse("\u{FEFF}image\tcaption\r\n\r\na.png\ta red circle\r\nsub/b.jpg\t  two words  \r\n   \n/abs/c.png\tthird\n", .tsv)
        XCTAssertEqual(f.rows, [CaptionRow(line: 3, imagePath: "/data/set/a.png", caption: "a red circle"),
                                CaptionRow(line: 4, imagePath: "/data/set/sub/b.jpg", caption: "two words"),
                                CaptionRow(line: 6, imagePath: "/abs/c.png", caption: "third")])
        XCTAssertEqual(f.skipped, [])
    }

    func testTSVWithoutHeader() {
        let f = parse("a.png\tfirst\nb.png\tsecond", .tsv)  // no final newline
        XCTAssertEqual(f.rows.map(\.caption), ["first", "second"])
        XCTAssertEqual(f.rows.map(\.line), [1, 2])
    }

    func testOpenCLIPHeaderNamesColumnsInAnyOrder() {
        let f = parse("title\tid\tfilepath\na cat\t7\tcat.png\nshort\t8\n", .tsv)
        XCTAssertEqual(f.rows, [CaptionRow(line: 2, imagePath: "/data/set/cat.png", caption: "a cat")])
        XCTAssertEqual(f.skipped.map(\.line), [3])
        guard case .malformedRow(let why) = f.skipped.first?.reason else { return XCTFail("\(f.skipped)") }
        XCTAssertTrue(why.contains("at least 3"), why)
    }

    func testTSVBadRowsAreSkippedWithTheirLines() {
        let f = parse("a.png\tok\nno tab here\nb.png\t \t\n\t a caption\nc.png\t\nd.png\tfine\n", .tsv)
        XCTAssertEqual(f.rows.map(\.line), [1, 6])
        XCTAssertEqual(f.skipped.map(\.line), [2, 3, 4, 5])
        XCTAssertEqual(f.skipped[0].reason, .malformedRow("expected 2 tab-separated fields (image path, caption), found 1; a caption may not contain a tab, and more columns need a header line naming them"))
        if case .malformedRow(let why) = f.skipped[1].reason { XCTAssertTrue(why.contains("found 3"), why) } else { XCTFail("\(f.skipped[1])") }
        XCTAssertEqual(f.skipped[2].reason, .malformedRow("the image path is empty"))
        XCTAssertEqual(f.skipped[3].reason, .emptyCaption)
        XCTAssertEqual("\(f.skipped[3])", "line 5: empty caption")
    }

    func testInvalidUTF8LineIsMalformed() {
        var bytes = Array("a.png\tok\n".utf8)
        bytes += [0x62, 0x2E, 0x70, 0x6E, 0x67, 0x09, 0xC3, 0x28, 0x0A]  // "b.png\t" + an invalid UTF-8 pair
        let f = CaptionFile.parse(bytes: bytes, format: .tsv, baseDirectory: ".")
        XCTAssertEqual(f.rows.map(\.imagePath), ["./a.png"])
        XCTAssertEqual(f.skipped, [SkippedRow(line: 2, reason: .malformedRow("the line is not valid UTF-8 text"))])
    }

    func testJSONLKeysAndBadLines() {
        let text = """
            {"image": "a.png", "caption": "first"}
            {"file": "b.png", "text": " second "}\r

            {"image": "c.png", "caption": "third"
            ["d.png", "fourth"]
            {"image": "e.png", "label": "x"}
            {"image": 5, "caption": "y"}
            {"image": "f.png", "caption": ""}
            {"filepath": "/g.png", "title": "seventh", "extra": [1, 2]}
            """
        let f = parse(text, .jsonl)
        XCTAssertEqual(f.rows, [CaptionRow(line: 1, imagePath: "/data/set/a.png", caption: "first"),
                                CaptionRow(line: 2, imagePath: "/data/set/b.png", caption: "second"),
                                CaptionRow(line: 9, imagePath: "/g.png", caption: "seventh")])
        XCTAssertEqual(f.skipped.map(\.line), [4, 5, 6, 7, 8])
        XCTAssertTrue("\(f.skipped[0].reason)".contains("invalid JSON"), "\(f.skipped[0])")
        XCTAssertEqual(f.skipped[1].reason, .malformedRow("expected a JSON object {\"image\": ..., \"caption\": ...}"))
        XCTAssertEqual(f.skipped[2].reason, .malformedRow("no caption key (one of \"caption\", \"title\", \"text\")"))
        XCTAssertEqual(f.skipped[3].reason, .malformedRow("\"image\" is not a string"))
        XCTAssertEqual(f.skipped[4].reason, .emptyCaption)
    }

    func testFormatFromExtensionAndFileErrors() throws {
        XCTAssertEqual(try CaptionFormat.of(path: "x/Captions.TSV"), .tsv)
        XCTAssertEqual(try CaptionFormat.of(path: "x.jsonl"), .jsonl)
        XCTAssertThrowsError(try CaptionFormat.of(path: "captions.csv")) { error in
            XCTAssertTrue("\(error)".contains(".tsv") && "\(error)".contains(".jsonl"), "\(error)")
        }
        XCTAssertThrowsError(try CaptionFile.parse(path: "/nonexistent-\(getpid())/captions.tsv")) { error in
            guard case CaptionDataError.unreadable(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent-\(getpid())/captions.tsv")
        }
    }

    func testPathsAreRelativeToTheCaptionsFilesFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("captionfile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("img/a.png\tan image\n".utf8).write(to: dir.appendingPathComponent("c.tsv"))
        let f = try CaptionFile.parse(path: dir.path + "/c.tsv")
        XCTAssertEqual(f.rows.first?.imagePath, dir.path + "/img/a.png")
        XCTAssertEqual(f.format, .tsv)
    }
}
