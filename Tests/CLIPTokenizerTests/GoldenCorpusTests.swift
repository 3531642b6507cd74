// Token ids against open_clip 3.3's own tokenizer on the golden corpus written by
// tools/goldens/tokenizer-goldens.py (ImageNet prompts, punctuation, digits, contractions, accented
// Latin, CJK, emoji/ZWJ, HTML entities, curly quotes, full-width forms, ligatures,
// whitespace/control characters, Unicode-version edge cases, random mixes, and strings far past 77
// tokens). Every mismatch is reported with its category and text; equality is exact (ids are
// integers).

import CLIPTokenizer
import Foundation
import XCTest

struct GoldenFile: Decodable {
    struct Case: Decodable {
        let category: String
        let text: String
        /// open_clip's `clean_fn(text)`.
        let clean: String
        /// `SimpleTokenizer.encode(text)`: all ids, no markers, no truncation.
        let encode: [Int32]
        /// `open_clip.tokenize(text)[0]` with the trailing zero padding trimmed.
        let tokenize: [Int32]
    }
    let reference: String
    let context_length: Int
    let cases: [Case]
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")
    static var bpePath: String { directory.appendingPathComponent("bpe_simple_vocab_16e6.txt.gz").path }
    /// The same vocabulary in the HF layout: the tiny HF checkpoint's vocab.json + merges.txt
    /// (written by tools/goldens/make-fixtures.py; identical to what tools/goldens/tokenizer-goldens.py would make).
    static var hfPath: String { directory.deletingLastPathComponent().appendingPathComponent("tiny-hf").path }

    /// One tokenizer for all tests: loading parses 48,894 merges.
    static let tokenizer: CLIPTokenizer = try! CLIPTokenizer.load(bpeFile: bpePath)

    static let goldens: GoldenFile = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("goldens.json"))
        return try! JSONDecoder().decode(GoldenFile.self, from: data)
    }()
}

/// Printable form of a string for failure messages.
func show(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
        .joined()
}

final class GoldenCorpusTests: XCTestCase {
    /// The corpus holds at least 1,000 strings; fewer means the fixture was cut down.
    static let minimumCorpusSize = 1_000

    func testCorpusCoversEveryCategory() {
        let cases = Fixtures.goldens.cases
        XCTAssertGreaterThanOrEqual(cases.count, Self.minimumCorpusSize)
        let categories = Set(cases.map(\.category))
        for required in ["imagenet", "punctuation", "digits", "contractions", "accented", "cjk", "emoji",
                         "html", "quotes", "width", "ligatures", "whitespace", "long"] {
            XCTAssertTrue(categories.contains(required), "no \(required) strings in goldens.json")
        }
        XCTAssertGreaterThan(cases.filter { $0.encode.count + 2 > CLIPTokenizer.contextLength }.count, 20,
                             "the corpus must hold strings longer than the context")
        XCTAssertEqual(Fixtures.goldens.context_length, CLIPTokenizer.contextLength)
    }

    func testCleanMatchesOpenCLIP() {
        var failures: [String] = []
        for c in Fixtures.goldens.cases {
            let got = Fixtures.tokenizer.clean(c.text)
            if got != c.clean {
                failures.append("[\(c.category)] \(show(c.text)): got \(show(got)), expected \(show(c.clean))")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) clean() mismatches:\n" + failures.prefix(40).joined(separator: "\n"))
    }

    func testEncodeMatchesOpenCLIP() {
        var failures: [String] = []
        for c in Fixtures.goldens.cases {
            let got = Fixtures.tokenizer.encode(c.text)
            if got != c.encode {
                failures.append("[\(c.category)] \(show(c.text)): got \(got.prefix(20)), expected \(c.encode.prefix(20))")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) encode() mismatches:\n" + failures.prefix(40).joined(separator: "\n"))
    }

    func testTokenizePaddedMatchesOpenCLIPTokenize() {
        var failures: [String] = []
        for c in Fixtures.goldens.cases {
            let expected = c.tokenize + [Int32](repeating: 0, count: CLIPTokenizer.contextLength - c.tokenize.count)
            let got = Fixtures.tokenizer.tokenizePadded(c.text)
            if got != expected {
                failures.append("[\(c.category)] \(show(c.text)): got \(got), expected \(expected)")
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) tokenizePadded() mismatches:\n" + failures.prefix(20).joined(separator: "\n"))
    }
}
