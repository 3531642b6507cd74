// The JSON and gunzip limits of the README's "Safety and limits" at their edges: the value AT the
// limit passes, limit + 1 is refused with the documented error.

import CLIPSupport
import Foundation
import XCTest

final class JSONLimitEdgeTests: XCTestCase {
    func nested(_ depth: Int, open: String, close: String, inner: String) -> [UInt8] {
        Array((String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)).utf8)
    }

    /// 64 arrays or objects inside one another are read, with a value innermost; 65 are refused.
    func testNestingLimit() throws {
        XCTAssertEqual(JSONLimits.maxDepth, 64)
        for (open, close, inner) in [("[", "]", "1"), ("{\"k\":", "}", "\"v\""), ("[", "]", "")] {
            var v = try parseJSON(nested(JSONLimits.maxDepth, open: open, close: close, inner: inner))
            var levels = 0
            while true {
                if let a = v.array, let first = a.first { v = first } else if let m = v.members, let first = m.first { v = first.value } else { break }
                levels += 1
            }
            XCTAssertEqual(levels + (inner.isEmpty ? 1 : 0), JSONLimits.maxDepth, "\(open)...\(inner)")
            XCTAssertThrowsError(try parseJSON(nested(JSONLimits.maxDepth + 1, open: open, close: close, inner: inner))) {
                XCTAssertEqual(($0 as? JSONError)?.message, "nesting deeper than 64 objects and arrays")
                XCTAssertEqual(($0 as? JSONError)?.offset, JSONLimits.maxDepth * open.utf8.count, "the error points at the 65th opening")
            }
        }
    }
}

final class GunzipLimitEdgeTests: XCTestCase {
    /// The real merges file gunzips to D bytes: with a cap of exactly D it is read, with D - 1 it
    /// is refused. The default cap is the documented 256 MB.
    func testOutputLimit() throws {
        XCTAssertEqual(Gunzip.maxOutputBytes, 256 << 20)
        let gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz")))
        XCTAssertTrue(Gunzip.isGzip(gz))
        let full = try Gunzip.decompress(gz)
        XCTAssertEqual(try Gunzip.decompress(gz, limit: full.count), full)
        XCTAssertThrowsError(try Gunzip.decompress(gz, limit: full.count - 1)) {
            XCTAssertEqual($0 as? GunzipError, .tooLarge(limit: full.count - 1))
        }
    }
}
