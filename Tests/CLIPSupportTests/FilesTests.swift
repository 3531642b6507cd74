import CLIPSupport
import Foundation
import XCTest

final class FilesTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("support-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Written atomically, read back by offset and mapped: the same bytes, and no temporary left.
    func testAtomicWriteThenReadAndMap() throws {
        let path = dir + "/f.bin", bytes = (0..<100).map { UInt8($0) }
        try AtomicFileWriter.write(bytes, to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f.bin"])
        let file = try ReadOnlyFile(path: path)
        XCTAssertEqual(file.size, 100)
        XCTAssertEqual(try file.bytes(at: 98, count: 2), [98, 99])
        XCTAssertThrowsError(try file.bytes(at: 98, count: 3)) {
            XCTAssertEqual($0 as? FileError, .outOfBounds(path: path, offset: 98, count: 3, size: 100))
        }
        let mapped = try MappedBytes(path: path)
        XCTAssertEqual(Array(mapped.all), bytes)
        XCTAssertTrue(fileExists(path))
        XCTAssertTrue(isDirectory(dir))
        XCTAssertFalse(isDirectory(path))
    }

    func testUnwritableTargetSaysSo() {
        XCTAssertThrowsError(try AtomicFileWriter.write([1], to: dir + "/missing/f.bin")) {
            XCTAssertEqual("\($0)", "cannot write '\(dir)/missing/f.bin': No such file or directory")
        }
    }

    /// A copy starts at the documented alignment, so views into it are as aligned as a mapping.
    func testCopyIsAligned() {
        let m = MappedBytes(bytes: [1, 2, 3])
        XCTAssertEqual(Int(bitPattern: m.base!) % MappedBytes.copyAlignment, 0)
        XCTAssertEqual(Array(m.all), [1, 2, 3])
    }
}
