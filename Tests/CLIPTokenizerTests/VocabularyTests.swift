// Vocabulary sources (open_clip's .txt.gz, the same as plain text, an HF vocab.json + merges.txt),
// context handling (truncation, tooLong) and the errors for missing or malformed files.

@testable import CLIPTokenizer
import Foundation
import XCTest

/// Lets concurrent test workers write disjoint slots of one buffer.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

final class VocabularyTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("clip-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    /// Asserts that `body` throws a TokenizerError of the expected kind whose message mentions `mention`.
    func assertThrows(_ kind: String, mentioning mention: String, _ body: () throws -> Any,
                      file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected a \(kind) error", file: file, line: line)
        } catch let error as TokenizerError {
            XCTAssertTrue("\(error)".contains(mention), "message \"\(error)\" does not mention \(mention)", file: file, line: line)
            let got: String
            switch error {
            case .fileNotFound: got = "fileNotFound"
            case .unreadableFile: got = "unreadableFile"
            case .malformedVocabulary: got = "malformedVocabulary"
            case .tooLong: got = "tooLong"
            }
            XCTAssertEqual(got, kind, "\(error)", file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    // MARK: - The standard vocabulary

    func testStandardVocabularyLayout() {
        let t = Fixtures.tokenizer
        XCTAssertEqual(t.vocabularySize, 49408)
        XCTAssertEqual(t.startOfText, 49406)
        XCTAssertEqual(t.endOfText, 49407)
        XCTAssertEqual(t.encoder.merges.count, CLIPTokenizer.standardMergeCount)
    }

    func testHuggingFaceDirectoryGivesTheSameIdsAsTheBPEFile() throws {
        let hf = try CLIPTokenizer.load(huggingFaceDirectory: Fixtures.hfPath)
        let bpe = Fixtures.tokenizer
        XCTAssertEqual(hf.vocabularySize, bpe.vocabularySize)
        XCTAssertEqual(hf.startOfText, bpe.startOfText)
        XCTAssertEqual(hf.endOfText, bpe.endOfText)
        XCTAssertEqual(hf.tokens, bpe.tokens.map {
            $0 == "<start_of_text>" ? "<|startoftext|>" : $0 == "<end_of_text>" ? "<|endoftext|>" : $0
        })
        var differing: [String] = []
        for c in Fixtures.goldens.cases where hf.encode(c.text) != bpe.encode(c.text) {
            differing.append(show(c.text))
        }
        XCTAssertTrue(differing.isEmpty, "HF and BPE sources differ on: \(differing.prefix(10))")
    }

    func testPlainTextBPEFileEqualsGzip() throws {
        let gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.bpePath)))
        let plain = try write("bpe.txt", VocabularyFiles.gunzip(gz, path: "fixture"))
        let t = try CLIPTokenizer.load(bpeFile: plain)
        XCTAssertEqual(t.tokens, Fixtures.tokenizer.tokens)
        XCTAssertEqual(t.encode("a photo of a cat."), Fixtures.tokenizer.encode("a photo of a cat."))
    }

    func testSmallCustomMergeList() throws {
        // 512 byte symbols, then "a b" -> 512, "ab c</w>" -> 513, then the two specials.
        let t = try CLIPTokenizer(bpeMerges: ["a b", "ab c</w>"])
        XCTAssertEqual(t.vocabularySize, 516)
        XCTAssertEqual(t.startOfText, 514)
        XCTAssertEqual(t.endOfText, 515)
        XCTAssertEqual(t.encode("abc"), [513])
        // Byte ids follow GPT-2's order: "!" is 0, so "a" is 0x61 - 0x21 = 64, "b</w>" 256 + 65.
        XCTAssertEqual(t.encode("ab"), [64, 321])  // "a b</w>" is not a rule ("a b" is)
        XCTAssertEqual(t.encode("abd"), [512, 256 + 67] as [Int32])
        XCTAssertEqual(t.decode(t.encode("abc abd")), "abc abd ")
    }

    // MARK: - Context length

    func testTokenizeAddsMarkersWithoutPadding() throws {
        let t = Fixtures.tokenizer
        let ids = try t.tokenize("a photo of a cat.", truncate: false)
        XCTAssertEqual(ids.first, t.startOfText)
        XCTAssertEqual(ids.last, t.endOfText)
        XCTAssertEqual(Array(ids.dropFirst().dropLast()), t.encode("a photo of a cat."))
        let padded = t.tokenizePadded("a photo of a cat.")
        XCTAssertEqual(padded.count, CLIPTokenizer.contextLength)
        XCTAssertEqual(Array(padded.prefix(ids.count)), ids)
        XCTAssertTrue(padded.dropFirst(ids.count).allSatisfy { $0 == 0 })
    }

    func testTruncationKeepsTheFirst76AndForcesEOT() throws {
        let t = Fixtures.tokenizer
        let text = (0..<100).map { "word\($0 % 10)" }.joined(separator: " ")
        let all = t.encode(text)
        XCTAssertGreaterThan(all.count + 2, CLIPTokenizer.contextLength)
        let ids = try t.tokenize(text, truncate: true)
        XCTAssertEqual(ids.count, CLIPTokenizer.contextLength)
        XCTAssertEqual(ids[0], t.startOfText)
        XCTAssertEqual(Array(ids[1..<76]), Array(all.prefix(75)))
        XCTAssertEqual(ids[76], t.endOfText)
        XCTAssertEqual(t.tokenizePadded(text), ids)
    }

    func testExactly77TokensIsNotTooLong() throws {
        let t = Fixtures.tokenizer
        // "a" is one token; 75 of them plus the markers fill the context exactly.
        let fits = Array(repeating: "a", count: 75).joined(separator: " ")
        XCTAssertEqual(try t.tokenize(fits, truncate: false).count, 77)
        let over = fits + " a"
        assertThrows("tooLong", mentioning: "78 tokens") { try t.tokenize(over, truncate: false) }
        XCTAssertThrowsError(try t.tokenize(over, truncate: false)) { error in
            XCTAssertEqual(error as? TokenizerError, .tooLong(tokens: 78, limit: 77))
        }
    }

    func testEmptyText() throws {
        let t = Fixtures.tokenizer
        XCTAssertEqual(t.encode(""), [])
        XCTAssertEqual(try t.tokenize("   ", truncate: false), [t.startOfText, t.endOfText])
    }

    func testDecodeRoundTrip() {
        let t = Fixtures.tokenizer
        XCTAssertEqual(t.decode(t.encode("a photo of a cat.")), "a photo of a cat . ")
        XCTAssertEqual(t.decode(t.encode("猫の写真 🙂")), "猫の写真 🙂 ")
    }

    func testConcurrentUseGivesTheSameIds() {
        // The BPE cache is shared; a fresh tokenizer makes every thread fill it at once.
        let t = try! CLIPTokenizer.load(bpeFile: Fixtures.bpePath)
        let cases = Array(Fixtures.goldens.cases.prefix(400))
        let results = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: cases.count * 4)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        let box = UncheckedBox(results)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for (i, c) in cases.enumerated() { box.value[worker * cases.count + i] = t.encode(c.text) }
        }
        for worker in 0..<4 {
            for (i, c) in cases.enumerated() where results[worker * cases.count + i] != c.encode {
                XCTFail("worker \(worker), \(show(c.text)): \(results[worker * cases.count + i]) vs \(c.encode)")
            }
        }
    }

    // MARK: - Errors

    func testVocabularyJSONParserAgreesWithFoundation() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.hfPath + "/vocab.json"))
        XCTAssertEqual(try VocabularyFiles.parseVocabulary([UInt8](data), source: "vocab.json"),
                       try JSONDecoder().decode([String: Int32].self, from: data))
    }

    func testMissingFiles() {
        assertThrows("fileNotFound", mentioning: "/nonexistent/bpe.txt.gz") {
            try CLIPTokenizer.load(bpeFile: "/nonexistent/bpe.txt.gz")
        }
        assertThrows("fileNotFound", mentioning: "vocab.json") {
            try CLIPTokenizer.load(huggingFaceDirectory: self.scratch.path)
        }
        assertThrows("unreadableFile", mentioning: "not a regular file") {
            try CLIPTokenizer.load(bpeFile: self.scratch.path)
        }
    }

    func testCorruptAndTruncatedGzip() throws {
        let gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.bpePath)))
        let truncated = try write("truncated.txt.gz", Array(gz.prefix(gz.count / 2)))
        assertThrows("unreadableFile", mentioning: "truncated") { try CLIPTokenizer.load(bpeFile: truncated) }
        var flipped = gz
        for i in 100..<200 { flipped[i] ^= 0x5A }
        let corrupt = try write("corrupt.txt.gz", flipped)
        assertThrows("unreadableFile", mentioning: "corrupt") { try CLIPTokenizer.load(bpeFile: corrupt) }
    }

    func testMalformedMergesFile() throws {
        let threeParts = try write("three.txt", "#version\na b\nab c d\n")
        assertThrows("malformedVocabulary", mentioning: "two symbols") { try CLIPTokenizer.load(bpeFile: threeParts) }
        let onlyHeader = try write("header.txt", "#version")
        assertThrows("malformedVocabulary", mentioning: "header") { try CLIPTokenizer.load(bpeFile: onlyHeader) }
        let binary = try write("binary.txt", [0x23, 0x0A, 0xFF, 0xFE, 0x20, 0x61])
        assertThrows("malformedVocabulary", mentioning: "UTF-8") { try CLIPTokenizer.load(bpeFile: binary) }
        // A merge whose parts never exist as symbols.
        assertThrows("malformedVocabulary", mentioning: "merge part") { try CLIPTokenizer(bpeMerges: ["xyz q"]) }
    }

    func testMalformedHuggingFaceDirectory() throws {
        let dir = scratch.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let merges = try String(contentsOfFile: Fixtures.hfPath + "/merges.txt", encoding: .utf8)
        try merges.write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)

        for (json, mention) in [("[1, 2, 3]", "JSON object"), ("{\"a\": 1.5}", "',' or '}'"),
                                ("{\"a\": 1", "end of the file"), ("{\"a\" 1}", "':'"),
                                ("{\"\\ud800\": 1}", "unpaired surrogate"), ("{\"a\": 99999999999}", "32 bits"),
                                ("{\"a\": 1} x", "nothing after")] {
            try json.write(to: dir.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
            assertThrows("malformedVocabulary", mentioning: mention) {
                try CLIPTokenizer.load(huggingFaceDirectory: dir.path)
            }
        }
        // Every JSON escape, against Foundation's decoder.
        let escaped = #"{"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude42": 7, "": 0}"#
        XCTAssertEqual(try VocabularyFiles.parseVocabulary(Array(escaped.utf8), source: "test"),
                       try JSONDecoder().decode([String: Int32].self, from: Data(escaped.utf8)))

        let vocabData = try Data(contentsOf: URL(fileURLWithPath: Fixtures.hfPath + "/vocab.json"))
        var vocab = try JSONDecoder().decode([String: Int32].self, from: vocabData)
        vocab.removeValue(forKey: "a</w>")
        try JSONEncoder().encode(vocab).write(to: dir.appendingPathComponent("vocab.json"))
        assertThrows("malformedVocabulary", mentioning: "a</w>") {
            try CLIPTokenizer.load(huggingFaceDirectory: dir.path)
        }

        var noSpecials = try JSONDecoder().decode([String: Int32].self, from: vocabData)
        noSpecials.removeValue(forKey: "<|startoftext|>")
        assertThrows("malformedVocabulary", mentioning: "startoftext") {
            try CLIPTokenizer(vocabulary: noSpecials, merges: [])
        }
        assertThrows("malformedVocabulary", mentioning: "empty vocabulary") {
            try CLIPTokenizer(vocabulary: [:], merges: [])
        }
        assertThrows("malformedVocabulary", mentioning: "two symbols") {
            try CLIPTokenizer(vocabulary: noSpecials, merges: ["a"])
        }
    }
}
