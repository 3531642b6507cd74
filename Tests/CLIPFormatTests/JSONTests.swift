import CLIPFormat
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
