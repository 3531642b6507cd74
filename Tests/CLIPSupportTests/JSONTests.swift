import CLIPSupport
import Foundation
import XCTest

final class JSONTests: XCTestCase {
    func testParsesValues() throws {
        let v = try parseJSON(Array(#" {"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {}} "#.utf8))
        XCTAssertEqual(v["a"]?.array?[0].int, 1)
        XCTAssertEqual(v["a"]?.array?[1].number, -2500)
        XCTAssertEqual(v["a"]?.array?[2].bool, true)
        XCTAssertEqual(v["a"]?.array?[3], .null)
        XCTAssertEqual(v["a"]?.array?[4].string, "xé😀\n")
        XCTAssertEqual(v["b"], .object([]))
    }

    func testRejectsMalformed() {
        for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "\"\\x\"", "\"\\ud800\"", "{\"a\":1} x", "tru", "{\"a\" 1}", "\"a\nb\""] {
            XCTAssertThrowsError(try parseJSON(Array(bad.utf8)), "should reject: \(bad)")
        }
    }

    func testIntRequiresExactIntegers() throws {
        XCTAssertNil(try parseJSON(Array("1.5".utf8)).int)
        XCTAssertNil(try parseJSON(Array("1e300".utf8)).int)
        XCTAssertEqual(try parseJSON(Array("1e3".utf8)).int, 1000)
    }
}

final class JSONReaderTests: XCTestCase {
    /// A reader of one known shape (the tokenizer's vocab.json) uses the pieces directly.
    func testPiecesWalkAnObjectWithoutATree() throws {
        var r = JSONReader(bytes: Array(#" {"a\u00e9": 1} "#.utf8))
        r.skipWhitespace()
        XCTAssertEqual(r.peek(), UInt8(ascii: "{"))
        r.offset += 1
        XCTAssertEqual(try r.string(), "aé")
        XCTAssertEqual(r.offset, 11)
        XCTAssertEqual(r.peek(), UInt8(ascii: ":"))
    }

    func testStringErrorsPointIntoTheInput() {
        var notAString = JSONReader(bytes: Array("12".utf8))
        XCTAssertThrowsError(try notAString.string()) { XCTAssertEqual("\($0)", "invalid JSON at byte 0: expected a string") }
        var loneHigh = JSONReader(bytes: Array(#""\ud800x""#.utf8))
        XCTAssertThrowsError(try loneHigh.string()) {
            XCTAssertEqual("\($0)", #"invalid JSON at byte 7: unpaired surrogate in \u escape"#)
        }
    }
}

final class JSONWriterTests: XCTestCase {
    func testQuotedEscapesWhatJSONRequires() {
        XCTAssertEqual(jsonQuoted("a\"b\\c\n\r\t\u{01}é😀"), #""a\"b\\c\n\r\t\u0001é😀""#)
    }

    /// What jsonQuoted writes, Foundation reads back as the same string (HF's vocab.json tokens).
    func testQuotedReadsBackWithFoundation() throws {
        for s in ["\"", "\\", "a\u{1}b", "tab\there", "ð Ł", "<|endoftext|>"] {
            let literal = jsonQuoted(s)
            let back = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as! [String]
            XCTAssertEqual(back, [s], literal)
        }
    }

    func testNumbersRoundTripAndNonFiniteIsNull() {
        XCTAssertEqual(jsonNumber(Float(0.1)), "0.1")
        XCTAssertEqual(jsonNumber(0.1), "0.1")
        XCTAssertEqual(jsonNumber(Float.nan), "null")
        XCTAssertEqual(jsonNumber(-Double.infinity), "null")
    }

    func testSerializedReadsBack() throws {
        let v = JSONValue.object([("k", .array([.number(1), .number(0.5), .string("x\n"), .bool(true), .null]))])
        XCTAssertEqual(v.serialized(), #"{"k": [1, 0.5, "x\n", true, null]}"#)
        XCTAssertEqual(try parseJSON(Array(v.serialized().utf8)), v)
    }
}
