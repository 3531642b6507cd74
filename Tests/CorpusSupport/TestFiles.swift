// Files for tests, shared by every test target: where the fixtures are, one temporary-directory
// helper, and the index trailer fix-ups.

import CLIPSupport
import Foundation
import XCTest

/// Tests/Fixtures, found from this file's path so tests run from any working directory.
public let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// A path under Tests/Fixtures.
public func fixture(_ parts: String...) -> String { ([fixtures] + parts).joined(separator: "/") }

extension XCTestCase {
    /// A fresh directory under the system temporary one, removed when the test ends.
    public func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pocketclip-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}

extension Array where Element == UInt8 {
    /// These bytes followed by their CRC-32, little-endian (the index's trailer).
    public func withCRC() -> [UInt8] {
        let crc = CLIPSupport.crc32(self)
        return self + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
    }

    /// An index file's bytes with the u32 at `offset` replaced and the trailing CRC-32 made right
    /// again, so only the reader's bounds checks stand between the lie and an allocation.
    public func indexPatched(_ offset: Int, _ value: UInt32) -> [UInt8] {
        var b = Array(dropLast(4))
        for k in 0..<4 { b[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
        return b.withCRC()
    }
}
