import CLIPSupport
import XCTest

final class ChecksumsTests: XCTestCase {
    func testCRC32MatchesZlibReference() {
        // The standard check value of CRC-32/ISO-HDLC.
        XCTAssertEqual(crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(crc32([]), 0)
    }

    /// A CRC continued over pieces equals the CRC of the whole (the search index writes in chunks).
    func testContinuedOverPieces() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let first = bytes[..<123].withUnsafeBytes { crc32($0) }
        let both = bytes[123...].withUnsafeBytes { crc32($0, initial: first) }
        XCTAssertEqual(both, crc32(bytes))
    }
}
