import CLIPSupport
import XCTest

final class ByteCursorTests: XCTestCase {
    struct Short: Error, Equatable { let what: String, count: Int, position: Int, remaining: Int }

    func testReadsWhatAppendLEWrites() throws {
        var bytes: [UInt8] = []
        bytes.appendLE(UInt16(0x0102))
        bytes.appendLE(UInt32(0xA1B2_C3D4))
        bytes.appendLE(UInt64(0x0102_0304_0506_0708))
        bytes.append(0xFF)
        XCTAssertEqual(Array(bytes[0..<6]), [0x02, 0x01, 0xD4, 0xC3, 0xB2, 0xA1])
        try bytes.withUnsafeBytes { raw in
            var c = ByteCursor(bytes: raw) { o in Short(what: o.what, count: o.count, position: o.position, remaining: o.remaining) }
            XCTAssertEqual(try c.uint(UInt16.self, "a"), 0x0102)
            XCTAssertEqual(try c.uint(UInt32.self, "b"), 0xA1B2_C3D4)
            XCTAssertEqual(try c.uint(UInt64.self, "c"), 0x0102_0304_0506_0708)
            XCTAssertEqual(try c.u8("d"), 0xFF)
            XCTAssertEqual(c.remaining, 0)
        }
    }

    /// A read past the end reads nothing and hands the caller what it wanted and where.
    func testOverrunIsTheCallersError() throws {
        try [UInt8](repeating: 0, count: 6).withUnsafeBytes { raw in
            var c = ByteCursor(bytes: raw) { o in Short(what: o.what, count: o.count, position: o.position, remaining: o.remaining) }
            _ = try c.take(4, "head")
            XCTAssertThrowsError(try c.uint(UInt32.self, "length")) {
                XCTAssertEqual($0 as? Short, Short(what: "length", count: 4, position: 4, remaining: 2))
            }
            XCTAssertEqual(c.position, 4)
            XCTAssertThrowsError(try c.need(-1, "negative"))
        }
    }
}
