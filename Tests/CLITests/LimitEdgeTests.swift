// `classify` over many images: results stream one image at a time (nothing kept per image, so
// memory stays flat however many are given — tools/bench/rss-flat.sh measures 10,000 in one
// process), image lists come from a file with --files-from (ArgumentParser is quadratic in the
// number of arguments: ~6 s for 10,000), and --progress reports on stderr. The bytes on stdout are
// those the collected output had: the other CLI tests pin those formats.

import Foundation
import CorpusSupport
import XCTest

final class ClassifyStreamingTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var model: String { root + "/models/pocketclip-fmnist.pclip" }
    var labels: String { root + "/examples/fashion-labels.txt" }
    var images: [String] {
        ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
            .map { root + "/examples/images/\($0).png" }
    }

    func testFilesFromGivesTheSameOutputAsArguments() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The list: the last five; the command line: the first five, classified before the list.
        try (images.suffix(5).joined(separator: "\n") + "\n\n").write(toFile: dir + "/list.txt", atomically: true, encoding: .utf8)
        for format in [[], ["--csv"], ["--json"]] {
            let all = try pocketclip(["classify", model] + images + ["--labels-file", labels, "--top-k", "3"] + format)
            XCTAssertEqual(all.status, 0, all.stderr)
            let listed = try pocketclip(["classify", model] + images.prefix(5) + ["--files-from", dir + "/list.txt",
                                         "--labels-file", labels, "--top-k", "3"] + format)
            XCTAssertEqual(listed.status, 0, listed.stderr)
            XCTAssertEqual(listed.stdout, all.stdout, "\(format)")
        }
        let json = try pocketclip(["classify", model, "--files-from", dir + "/list.txt", "--labels-file", labels, "--json"])
        let results = (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["results"] as? [[String: Any]]
        XCTAssertEqual(results?.compactMap { $0["image"] as? String }, Array(images.suffix(5)), "one valid JSON document, in order")
    }

    func testProgressGoesToStderr() throws {
        let r = try pocketclip(["classify", model] + images + ["--labels-file", labels, "--csv", "--progress"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 1 + images.count)
        XCTAssertEqual(r.stderr, "classified 10 of 10 images\n")
    }

    /// Results already written stay written: an image that cannot be decoded stops the run
    /// with its one-line error and a non-zero exit, after the images before it.
    func testABadImageStopsTheStreamWithItsError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bogus = dir + "/not-an-image.png"
        try "text".write(toFile: bogus, atomically: true, encoding: .utf8)
        let r = try pocketclip(["classify", model, images[0], bogus, images[1], "--labels-file", labels, "--csv"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stdout.split(separator: "\n").map { String($0.prefix { $0 != "," }) }, ["image", images[0]])
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        XCTAssertTrue(r.stderr.contains("not-an-image.png"), r.stderr)
    }

    func testBadFileLists() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "\n\n".write(toFile: dir + "/empty.txt", atomically: true, encoding: .utf8)
        for (list, mention) in [(dir + "/missing.txt", "missing.txt"), (dir + "/empty.txt", "lists no image")] {
            let r = try pocketclip(["classify", model, "--files-from", list, "--labels-file", labels])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stdout, "")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(mention), r.stderr)
        }
        let none = try pocketclip(["classify", model, "--labels-file", labels])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("give at least one image file (or --files-from)"), none.stderr)
    }

    /// The list files' size limits at their edges: a file of exactly the limit is read (all
    /// newlines, so it then names nothing and is refused for that), one byte more is refused from
    /// its size (a sparse file).
    func testListFileSizeLimits() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(limit: Int, args: (String) -> [String], atLimitError: String)] = [
            (16 << 20, { [self.images[0], "--labels-file", $0] }, "the label list is empty"),        // maxTextFileBytes
            (16 << 20, { [self.images[0], "--labels", "a,b", "--templates-file", $0] }, "holds no template"),
            (64 << 20, { ["--files-from", $0, "--labels", "a,b"] }, "lists no image"),             // Classify.maxFileListBytes
        ]
        for (limit, args, atLimitError) in cases {
            let at = dir + "/at.txt", over = dir + "/over.txt"
            try Data(repeating: 0x0A, count: limit).write(to: URL(fileURLWithPath: at))
            try makeSparseFile(over, size: limit + 1)
            for (path, mention) in [(at, atLimitError), (over, "is \(limit + 1) bytes, more than the \(limit) allowed")] {
                let r = try pocketclip(["classify", model] + args(path))
                XCTAssertNotEqual(r.status, 0)
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
                XCTAssertTrue(r.stderr.contains(mention), "\(r.stderr) should mention '\(mention)'")
            }
        }
    }
}
