// Images that cannot be used among good ones, for classify, embed and index build: with
// --keep-going each is one stderr line naming it as given, the others are all in a valid JSON or
// CSV document, a summary line ends stderr and the exit status is 3; without it the first stops
// the run (exit 1) and what was printed is still a complete document.

import CorpusSupport
import Foundation
import XCTest

final class KeepGoingCLITests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var model: String { root + "/models/pocketclip-fmnist.pclip" }
    var good: [String] { ["bag", "coat", "sneaker"].map { root + "/examples/images/\($0).png" } }

    /// good[0], a text file named .png, good[1], a missing file, good[2] (relative names where
    /// given so: the stderr lines must repeat them exactly).
    func mixedImages() throws -> (all: [String], bad: [String]) {
        let dir = try temporaryDirectory()
        let text = dir + "/not-an-image.png"
        try Data("this is text, not a PNG".utf8).write(to: URL(fileURLWithPath: text))
        let missing = dir + "/gone.jpg"
        return ([good[0], text, good[1], missing, good[2]], [text, missing])
    }

    func json(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any]? {
        let parsed = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]
        XCTAssertNotNil(parsed, "not a JSON document: \(s)", file: file, line: line)
        return parsed
    }

    /// Per bad image one "error: cannot use image 'PATH': …" line, then the summary line.
    func assertReported(_ stderr: String, bad: [String], summary: String, file: StaticString = #filePath, line: UInt = #line) {
        let lines = stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, bad.count + 1, stderr, file: file, line: line)
        for (l, path) in zip(lines, bad) {
            XCTAssertTrue(l.hasPrefix("error: cannot use image '\(path)': "), l, file: file, line: line)
        }
        XCTAssertEqual(lines.last, summary, file: file, line: line)
    }

    func testClassifyKeepsGoingInEveryFormat() throws {
        let (images, bad) = try mixedImages()
        let args = ["classify", model] + images + ["--labels", "bag,coat,sneaker", "--top-k", "1", "--keep-going"]
        let summary = "classified 3 of 5 images; 2 failed"

        let j = try pocketclip(args + ["--json"])
        XCTAssertEqual(j.status, 3, j.stderr)
        assertReported(j.stderr, bad: bad, summary: summary)
        let doc = json(j.stdout)
        let results = doc?["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(strings(results, "image"), good)
        let errors = doc?["errors"] as? [[String: Any]] ?? []
        XCTAssertEqual(strings(errors, "image"), bad)
        XCTAssertTrue(errors.allSatisfy { !(($0["error"] as? String) ?? "").isEmpty })

        let c = try pocketclip(args + ["--csv"])
        XCTAssertEqual(c.status, 3, c.stderr)
        assertReported(c.stderr, bad: bad, summary: summary)
        let rows = c.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 1 + good.count, c.stdout)  // header + the good ones
        XCTAssertEqual(rows.dropFirst().map { String($0.split(separator: ",")[0]) }, good)

        let t = try pocketclip(args)
        XCTAssertEqual(t.status, 3, t.stderr)
        assertReported(t.stderr, bad: bad, summary: summary)
        XCTAssertEqual(t.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }.map(String.init), good)
    }

    /// The same run with only good images: exit 0, an empty errors array, the summary.
    func testClassifyKeepGoingWithNothingBad() throws {
        let r = try pocketclip(["classify", model] + good + ["--labels", "bag,coat", "--keep-going", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "classified 3 of 3 images\n")
        XCTAssertEqual((json(r.stdout)?["errors"] as? [Any])?.count, 0)
    }

    func testClassifyStopsAtTheFirstBadImageWithValidOutput() throws {
        let (images, bad) = try mixedImages()
        // Without --keep-going a missing image is refused before the model loads: test an
        // undecodable one alone here.
        let list = images.filter { $0 != bad[1] }
        let args = ["classify", model] + list + ["--labels", "bag,coat", "--top-k", "1"]
        let j = try pocketclip(args + ["--json"])
        XCTAssertEqual(j.status, 1)
        XCTAssertEqual(j.stderr.split(separator: "\n").count, 1, j.stderr)
        XCTAssertTrue(j.stderr.hasPrefix("error: cannot use image '\(bad[0])': "), j.stderr)
        let doc = json(j.stdout)
        XCTAssertEqual(strings(doc?["results"], "image"), [good[0]])
        XCTAssertEqual(strings(doc?["errors"], "image"), [bad[0]])

        let c = try pocketclip(args + ["--csv"])
        XCTAssertEqual(c.status, 1)
        XCTAssertEqual(c.stdout.split(separator: "\n").count, 2, c.stdout)  // header + the first image

        let missing = try pocketclip(["classify", model] + images + ["--labels", "bag,coat", "--json"])
        assertOneLineError(missing, mentions: bad[1])
    }

    func testEmbedKeepsGoing() throws {
        let (images, bad) = try mixedImages()
        let args = ["embed", model, "--text", "a bag"] + images.flatMap { ["--image", $0] }
        let k = try pocketclip(args + ["--keep-going"])
        XCTAssertEqual(k.status, 3, k.stderr)
        assertReported(k.stderr, bad: bad, summary: "embedded 3 of 5 images; 2 failed")
        let doc = json(k.stdout)
        XCTAssertEqual(strings(doc?["images"], "path"), good)
        XCTAssertEqual((doc?["texts"] as? [Any])?.count, 1)
        XCTAssertEqual(strings(doc?["errors"], "image"), bad)

        // Without it: nothing on stdout (the document is printed whole or not at all), one line.
        assertOneLineError(try pocketclip(args), mentions: "cannot use image '\(bad[0])'")
    }

    func testIndexBuildKeepsGoingAndStopsWithout() throws {
        let dir = try temporaryDirectory()
        let folder = dir + "/photos"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        for (i, path) in good.enumerated() { try FileManager.default.copyItem(atPath: path, toPath: folder + "/\(i).png") }
        try Data("not a PNG".utf8).write(to: URL(fileURLWithPath: folder + "/1b.png"))
        let index = dir + "/photos.index"

        let stop = try pocketclip(["index", "build", model, folder, "-o", index, "--batch", "1", "--save-every", "1"])
        XCTAssertEqual(stop.status, 1, stop.stderr)
        XCTAssertTrue(stop.stderr.contains("error: cannot use image '\(folder)/1b.png': "), stop.stderr)
        XCTAssertTrue(stop.stderr.contains("--keep-going"), stop.stderr)
        // What was saved before it is kept: 0.png and 1.png come first in path order.
        let saved = try pocketclip(["index", "info", index])
        XCTAssertTrue(saved.stdout.contains(": 2 images under"), saved.stdout + saved.stderr)

        let go = try pocketclip(["index", "build", model, folder, "-o", index, "--keep-going"])
        XCTAssertEqual(go.status, 3, go.stderr)
        let lines = go.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0.hasPrefix("error: cannot use image '\(folder)/1b.png': ") }.count, 1, go.stderr)
        XCTAssertEqual(lines.last, "embedded 1 of 2 images; 1 failed")
        XCTAssertTrue(go.stdout.contains("3 images (1 embedded, 2 already indexed, 0 removed, 1 undecodable skipped)"), go.stdout)
    }
}

/// The `key` member of each object of a JSON array (a placeholder where it is not a string), or
/// nil when `array` is not an array of objects. Typed out so every compiler infers the same types.
func strings(_ array: Any?, _ key: String) -> [String]? {
    (array as? [[String: Any]])?.map { ($0[key] as? String) ?? "<\(key) is not a string>" }
}

