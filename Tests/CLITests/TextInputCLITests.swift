// Text inputs as people's editors write them: Windows line ends (CRLF), old Mac ones (a lone CR),
// a UTF-8 byte-order mark, blank lines; a list on standard input. Each must give the output the
// plain LF file gives; a line with a control character or non-UTF-8 bytes is refused with its
// number, in one line.

import CorpusSupport
import Foundation
import XCTest

final class TextInputCLITests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var model: String { root + "/models/pocketclip-fmnist.pclip" }
    var images: [String] { ["bag", "coat", "sneaker"].map { root + "/examples/images/\($0).png" } }
    let labels = ["bag", "coat", "sneaker", "ankle boot"]
    let templates = ["a photo of a {}.", "{}"]

    /// The same lines written with each line ending, with and without a byte-order mark.
    func variants(_ lines: [String]) -> [(name: String, bytes: Data)] {
        var out: [(String, Data)] = []
        for (name, end) in [("LF", "\n"), ("CRLF", "\r\n"), ("CR", "\r")] {
            let text = lines.joined(separator: end) + end + end  // a trailing blank line too
            out.append((name, Data(text.utf8)))
            out.append((name + "+BOM", Data([0xEF, 0xBB, 0xBF]) + Data(text.utf8)))
        }
        return out
    }

    func testLabelsAndTemplatesFilesReadTheSameWithAnyLineEnd() throws {
        let dir = try temporaryDirectory()
        let expected = try pocketclip(["classify", model] + images + ["--labels", labels.joined(separator: ","),
                                       "--template", templates[0], "--template", templates[1], "--json"])
        XCTAssertEqual(expected.status, 0, expected.stderr)
        for ((name, labelBytes), (_, templateBytes)) in zip(variants(labels), variants(templates)) {
            try labelBytes.write(to: URL(fileURLWithPath: dir + "/labels.txt"))
            try templateBytes.write(to: URL(fileURLWithPath: dir + "/templates.txt"))
            let r = try pocketclip(["classify", model] + images + ["--labels-file", dir + "/labels.txt",
                                    "--templates-file", dir + "/templates.txt", "--json"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stdout, expected.stdout, "\(name): labels or templates read differently")
        }
    }

    func testFilesFromReadsAnyLineEndAndStandardInput() throws {
        let dir = try temporaryDirectory()
        let common = ["--labels", labels.joined(separator: ","), "--csv"]
        let expected = try pocketclip(["classify", model] + images + common)
        XCTAssertEqual(expected.status, 0, expected.stderr)
        for (name, bytes) in variants(images) {
            try bytes.write(to: URL(fileURLWithPath: dir + "/list.txt"))
            let r = try pocketclip(["classify", model, "--files-from", dir + "/list.txt"] + common)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stdout, expected.stdout, name)
            let piped = try pocketclip(["classify", model, "--files-from", "-"] + common, stdin: bytes)
            XCTAssertEqual(piped.status, 0, "\(name) on standard input: \(piped.stderr)")
            XCTAssertEqual(piped.stdout, expected.stdout, "\(name) on standard input")
            // A pipe given by name (what `<(command)` and /dev/stdin are) has no size to check
            // first: it is read to its end like "-".
            let named = try pocketclip(["classify", model, "--files-from", "/dev/stdin"] + common, stdin: bytes)
            XCTAssertEqual(named.status, 0, "\(name) through /dev/stdin: \(named.stderr)")
            XCTAssertEqual(named.stdout, expected.stdout, "\(name) through /dev/stdin")
        }
    }

    /// The bundled model's context is 20 tokens: a longer label is refused naming the label and
    /// that context, and --truncate truncates to it (open_clip's rule: EOT in the last slot), for
    /// classify, head build and embed alike.
    func testTruncateUsesTheModelsOwnContext() throws {
        let dir = try temporaryDirectory()
        let long = "a pair of worn brown leather ankle boots with thick soles and laces and a zip on the side"
        let classes = ["bag", long]
        for args in [["classify", model, images[0], "--labels", classes.joined(separator: ",")],
                     ["head", "build", model, "--labels", classes.joined(separator: ","), "-o", dir + "/c.head"],
                     ["embed", model, "--text", long]] {
            let refused = try pocketclip(args)
            assertOneLineError(refused, mentions: "context of 20")
            XCTAssertTrue(refused.stderr.contains("a pair of worn brown"), refused.stderr)
            let truncated = try pocketclip(args + ["--truncate"])
            XCTAssertEqual(truncated.status, 0, "\(args[0]) --truncate: \(truncated.stderr)")
        }
    }

    func testControlCharactersAndBinaryLabelsAreRefusedWithTheLineNumber() throws {
        let dir = try temporaryDirectory()
        let cases: [(Data, String)] = [
            (Data("bag\r\ncoat\u{07}\r\nsneaker\r\n".utf8), "line 2"),
            (Data("bag\n\nsneaker\tboot\n".utf8), "line 3"),  // blank lines still count
            (Data([0x62, 0x61, 0x67, 0x0A, 0xFF, 0xFE, 0x00, 0x01, 0x0A]), "line 2"),
        ]
        for (bytes, line) in cases {
            try bytes.write(to: URL(fileURLWithPath: dir + "/labels.txt"))
            let r = try pocketclip(["classify", model, images[0], "--labels-file", dir + "/labels.txt"])
            assertOneLineError(r, mentions: line)
            XCTAssertTrue(r.stderr.contains("labels.txt"), r.stderr)
        }
    }

    /// A text may start with "-" ("-20% off", "--"): `--text` takes the next argument whatever it is.
    func testTextValuesMayStartWithADash() throws {
        let r = try pocketclip(["embed", model, "--text", "-a bag"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"-a bag\""), r.stdout)
    }

}
