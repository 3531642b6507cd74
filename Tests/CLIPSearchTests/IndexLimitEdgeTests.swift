// The embedding index's limits (EmbeddingIndex.max*) of the README's "Safety and limits" at their
// edges: the value at the limit passes, limit + 1 is refused with the documented error.

import CLIPFormat
import CLIPSearch
import CorpusSupport
import XCTest

/// The `.index` file's limits (EmbeddingIndex.maxDim, maxEntries, maxPathBytes) at their edges,
/// through `parse(bytes:path:)`, the code `read`/`load` run. Files are built here field by field
/// with a valid CRC, so only the field under test is out of line. A count at the limit is only
/// claimed: the check after it (the bytes that follow cannot hold that many entries) refuses it
/// before anything is reserved, which shows the limit check itself passed.
final class IndexLimitEdgeTests: XCTestCase {
    /// An index file: header, root, `entries` (path and `dim` floats each), CRC-32. `count`
    /// overrides the entry count the header claims.
    func indexBytes(dim: Int = 2, root: String = "/r", entries: [String] = [], count: Int? = nil) -> [UInt8] {
        func le(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        var b = EmbeddingIndex.magic + le(EmbeddingIndex.version) + le(0xC0FFEE11)
        b += le(UInt32(dim)) + le(UInt32(count ?? entries.count)) + le(UInt32(root.utf8.count)) + Array(root.utf8)
        for path in entries {
            b += le(UInt32(path.utf8.count)) + Array(path.utf8) + [UInt8](repeating: 0, count: 16)
            for k in 0..<dim { b += le(Float(k == 0 ? 1 : 0).bitPattern) }
        }
        return b.withCRC()
    }

    /// Parsing `bytes` throws EmbeddingIndexError.corrupt whose message contains `text`.
    func assertCorrupt(_ bytes: [UInt8], _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try EmbeddingIndex.parse(bytes: bytes, path: "x.index"), file: file, line: line) {
            guard case .corrupt("x.index", let detail)? = $0 as? EmbeddingIndexError else {
                return XCTFail("expected corrupt, got \($0)", file: file, line: line)
            }
            XCTAssertTrue(detail.contains(text), "'\(detail)' should contain '\(text)'", file: file, line: line)
        }
    }

    func assertInvalid(_ text: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            guard case .invalid(let message)? = $0 as? EmbeddingIndexError else { return XCTFail("\($0)", file: file, line: line) }
            XCTAssertTrue(message.contains(text), "'\(message)' should contain '\(text)'", file: file, line: line)
        }
    }

    func testBaseIndexParses() throws {
        let index = try EmbeddingIndex.parse(bytes: indexBytes(entries: ["a.png"]), path: "x.index")
        XCTAssertEqual([index.dim, index.count], [2, 1])
        XCTAssertEqual(index.paths, ["a.png"])
    }

    /// An empty index of the largest dim is a whole, valid file (64 KiB per entry would follow).
    func testDimLimit() throws {
        XCTAssertEqual(EmbeddingIndex.maxDim, 16_384)
        let n = EmbeddingIndex.maxDim
        XCTAssertEqual(try EmbeddingIndex.parse(bytes: indexBytes(dim: n), path: "x.index").dim, n)
        XCTAssertEqual(try EmbeddingIndex(modelFingerprint: 1, dim: n, root: "/r").dim, n)
        assertCorrupt(indexBytes(dim: n + 1), "dim 16385 (the embedding size) is outside 1...16384")
        assertInvalid("embedding size 16385 is outside 1...16384") { _ = try EmbeddingIndex(modelFingerprint: 1, dim: n + 1, root: "/r") }
    }

    /// A header claiming exactly maxEntries passes the count limit and is then refused because
    /// the file cannot hold them — before any reservation (peak RSS checked). One more is refused
    /// by the limit itself.
    func testEntryCountLimit() {
        XCTAssertEqual(EmbeddingIndex.maxEntries, 100_000_000)
        let n = EmbeddingIndex.maxEntries
        let growth = PeakMemory.growth {
            assertCorrupt(indexBytes(count: n), "header claims 100000000 entries of ≥29 bytes but only 0 bytes follow")
        }
        if let growth { XCTAssertLessThan(growth, maxIndexReadGrowth) }
        assertCorrupt(indexBytes(count: n + 1), "header claims 100000001 entries, more than the 100000000 an index holds")
    }

    /// A root and an entry path of exactly maxPathBytes are stored, read and accepted; one byte
    /// more is refused by the reader, by the writer (for the root as stored: relative to the
    /// index's directory) and by the in-memory API that builds indexes (for entry paths).
    func testPathLengthLimit() throws {
        XCTAssertEqual(EmbeddingIndex.maxPathBytes, 4096)
        let n = EmbeddingIndex.maxPathBytes
        let root = "/" + String(repeating: "r", count: n - 1), path = String(repeating: "p", count: n - 4) + ".png"
        let index = try EmbeddingIndex.parse(bytes: indexBytes(root: root, entries: [path]), path: "x.index")
        XCTAssertEqual(index.root, root)
        XCTAssertEqual(index.paths, [path])
        assertCorrupt(indexBytes(root: root + "r", entries: [path]), "root length 4097 is outside 0...4096 bytes")
        assertCorrupt(indexBytes(root: root, entries: [path + "x"]), "entry 0 path length 4097 is outside 1...4096 bytes")

        var built = try EmbeddingIndex(modelFingerprint: 1, dim: 2, root: root)
        try built.append(path: path, stamp: FileStamp(size: 1, modifiedNanoseconds: 1), embedding: [1, 0])
        XCTAssertEqual(built.paths, [path])
        // The root is stored relative to the index's directory: a folder named by 4096 bytes
        // there fits, 4097 do not (only the strings count: neither folder has to exist).
        let dir = try temporaryDirectory(), base = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        let fits = try EmbeddingIndex(modelFingerprint: 1, dim: 2, root: base + "/" + String(repeating: "r", count: n))
        XCTAssertEqual(fits.storedRoot(forIndexAt: dir + "/x.index").utf8.count, n)
        try fits.write(to: dir + "/x.index")
        XCTAssertEqual(try EmbeddingIndex.read(dir + "/x.index").root, fits.root)
        let over = try EmbeddingIndex(modelFingerprint: 1, dim: 2, root: base + "/" + String(repeating: "r", count: n + 1))
        assertInvalid("the folder's path relative to the index is 4097 bytes, more than the 4096") { try over.write(to: dir + "/y.index") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["x.index"], "a refused write leaves nothing")
        assertInvalid("is 4097 bytes, outside 1...4096") {
            try built.append(path: path + "x", stamp: FileStamp(size: 1, modifiedNanoseconds: 1), embedding: [1, 0])
        }
    }
}
