// Every .pclip limit of the README's "Safety and limits" at its edge: the value AT the
// limit passes that check, limit + 1 is refused with the documented error. Files are built here
// byte by byte with valid CRCs, so only the field under test is out of line; sizes at the limit
// are claimed in the header, never backed by that many real bytes (the check that follows —
// "inside the file" — then fails, which shows the limit check itself passed).

@testable import CLIPFormat
import CLIPSupport
import XCTest

/// One directory entry as raw fields (formats/pclip.md, "Tensor directory").
struct RawEntry {
    var name = Array("t".utf8)
    var dtype: UInt8 = PclipDType.f32.rawValue
    var compression: UInt8 = PclipCompression.raw.rawValue
    var dims: [UInt64] = [1]
    var groupSize: UInt32 = 0
    var offset: UInt64 = UInt64(Pclip.headerSize)
    var storedSize: UInt64 = 4
    var decodedSize: UInt64 = 4
    var crc: UInt32 = 0

    var bytes: [UInt8] {
        var b = le(UInt16(name.count)) + name + [dtype, compression, UInt8(truncatingIfNeeded: dims.count), 0] + le(groupSize)
        for d in dims { b += le(d) }
        return b + le(offset) + le(storedSize) + le(decodedSize) + le(crc)
    }
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
}

/// A container: header, `payload` at byte 64 (so a raw tensor there is aligned), metadata, then
/// the directory. `metadataSize`, `directorySize` and `tensorCount` override what the header
/// claims (the CRCs stay those of the real bytes, and the header CRC is always valid).
func pclipBytes(payload: [UInt8] = [], metadata: String = "{}", entries: [RawEntry] = [],
                metadataSize: UInt64? = nil, directorySize: UInt64? = nil, tensorCount: UInt32? = nil) -> [UInt8] {
    let meta = Array(metadata.utf8), dir = entries.flatMap(\.bytes)
    let metaOffset = UInt64(Pclip.headerSize + payload.count), dirOffset = metaOffset + UInt64(meta.count)
    var header = Pclip.magic + le(Pclip.versionMajor) + le(Pclip.versionMinor) + le(UInt32(0))
    header += le(metaOffset) + le(metadataSize ?? UInt64(meta.count)) + le(dirOffset) + le(directorySize ?? UInt64(dir.count))
    header += le(tensorCount ?? UInt32(entries.count)) + le(crc32(meta)) + le(crc32(dir))
    header += le(crc32(header))
    return header + payload + meta + dir
}

final class PclipLimitEdgeTests: XCTestCase {
    /// Runs `body`, which must throw a PclipError whose message contains `text`.
    func assertRefused(_ text: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("accepted; expected an error mentioning '\(text)'", file: file, line: line)
        } catch let e as PclipError {
            XCTAssertTrue(e.description.contains(text), "'\(e)' should mention '\(text)'", file: file, line: line)
        } catch {
            XCTFail("expected a PclipError, got \(error)", file: file, line: line)
        }
    }

    /// An f32 tensor of one element at byte 64, valid in every field.
    func oneFloat(_ modify: (inout RawEntry) -> Void = { _ in }) -> (payload: [UInt8], entry: RawEntry) {
        let payload = le(Float(1.5).bitPattern)
        var e = RawEntry(crc: crc32(payload))
        modify(&e)
        return (payload, e)
    }

    func testBaseFileOpens() throws {
        let (payload, e) = oneFloat()
        let f = try PclipFile(bytes: pclipBytes(payload: payload, entries: [e]))
        XCTAssertEqual(try f.floats("t").values, [1.5])
    }

    func testHeaderIs64Bytes() {
        let file = pclipBytes()
        XCTAssertEqual(Pclip.headerSize, 64)
        // 64 bytes: the header is read (and its CRC checked); the metadata it points to is missing.
        assertRefused("metadata is corrupt: bytes 64..<66 are not inside the 64-byte file") {
            _ = try PclipFile(bytes: Array(file.prefix(Pclip.headerSize)))
        }
        assertRefused("63 bytes is shorter than the 64-byte header") { _ = try PclipFile(bytes: Array(file.prefix(Pclip.headerSize - 1))) }
    }

    func testMetadataSizeLimit() {
        XCTAssertEqual(Pclip.maxMetadataBytes, 16 << 20)
        let start = Pclip.headerSize  // the metadata follows the header
        assertRefused("metadata is corrupt: bytes \(start)..<\(start + Pclip.maxMetadataBytes) are not inside") {
            _ = try PclipFile(bytes: pclipBytes(metadataSize: UInt64(Pclip.maxMetadataBytes)))
        }
        assertRefused("metadata is corrupt: size \(Pclip.maxMetadataBytes + 1) is outside 2...\(Pclip.maxMetadataBytes)") {
            _ = try PclipFile(bytes: pclipBytes(metadataSize: UInt64(Pclip.maxMetadataBytes + 1)))
        }
    }

    func testDirectorySizeLimit() {
        XCTAssertEqual(Pclip.maxDirectoryBytes, 64 << 20)
        let start = Pclip.headerSize + 2  // after the header and the 2-byte metadata "{}"
        assertRefused("directory is corrupt: bytes \(start)..<\(start + Pclip.maxDirectoryBytes) are not inside") {
            _ = try PclipFile(bytes: pclipBytes(directorySize: UInt64(Pclip.maxDirectoryBytes)))
        }
        assertRefused("directory is corrupt: size \(Pclip.maxDirectoryBytes + 1) is outside 0...\(Pclip.maxDirectoryBytes)") {
            _ = try PclipFile(bytes: pclipBytes(directorySize: UInt64(Pclip.maxDirectoryBytes + 1)))
        }
    }

    /// The count is checked before the directory is walked or anything is sized from it.
    func testTensorCountLimit() {
        XCTAssertEqual(Pclip.maxTensors, 65_536)
        assertRefused("directory is corrupt: it ends inside a tensor entry") {
            _ = try PclipFile(bytes: pclipBytes(tensorCount: UInt32(Pclip.maxTensors)))
        }
        assertRefused("\(Pclip.maxTensors + 1) tensors (limit \(Pclip.maxTensors))") {
            _ = try PclipFile(bytes: pclipBytes(tensorCount: UInt32(Pclip.maxTensors + 1)))
        }
    }

    func testNameLengthLimit() throws {
        XCTAssertEqual(Pclip.maxNameBytes, 256)
        let atLimit = String(repeating: "n", count: Pclip.maxNameBytes)
        let (payload, e) = oneFloat { $0.name = Array(atLimit.utf8) }
        XCTAssertEqual(try PclipFile(bytes: pclipBytes(payload: payload, entries: [e])).tensors.map(\.name), [atLimit])
        let (_, over) = oneFloat { $0.name = Array((atLimit + "n").utf8) }
        assertRefused("name length 257 is outside 1...256") { _ = try PclipFile(bytes: pclipBytes(payload: payload, entries: [over])) }
    }

    func testRankLimit() throws {
        XCTAssertEqual(Pclip.maxRank, 4)
        let (payload, e) = oneFloat { $0.dims = [1, 1, 1, 1] }
        XCTAssertEqual(try PclipFile(bytes: pclipBytes(payload: payload, entries: [e])).tensors[0].dims, [1, 1, 1, 1])
        let (_, over) = oneFloat { $0.dims = [1, 1, 1, 1, 1] }
        assertRefused("rank 5 (limit 4)") { _ = try PclipFile(bytes: pclipBytes(payload: payload, entries: [over])) }
    }

    /// 2^40 elements pass the count (and the decoded-size rule); the stored bytes are then not in
    /// the file. 2^40 + 1 = 257 × 4,278,255,361 is refused as a product and as one dimension.
    func testElementCountLimit() {
        XCTAssertEqual(Pclip.maxElements, 1 << 40)
        let n = UInt64(Pclip.maxElements)
        let (payload, atLimit) = oneFloat {
            $0.dtype = PclipDType.bytes.rawValue
            $0.dims = [n]
            ($0.storedSize, $0.decodedSize) = (n, n)
        }
        assertRefused("stored bytes 64..<\(64 + n) are not inside") { _ = try PclipFile(bytes: pclipBytes(payload: payload, entries: [atLimit])) }
        XCTAssertEqual(UInt64(257) * 4_278_255_361, n + 1)
        let (_, product) = oneFloat { $0.dims = [257, 4_278_255_361] }
        assertRefused("more than 2^40 elements") { _ = try PclipFile(bytes: pclipBytes(payload: payload, entries: [product])) }
        let (_, single) = oneFloat { $0.dtype = PclipDType.bytes.rawValue; $0.dims = [n + 1] }
        assertRefused("dimension 0 is \(n + 1)") { _ = try PclipFile(bytes: pclipBytes(payload: payload, entries: [single])) }
    }

    /// A zstd tensor may declare at most 4096 × its stored bytes + 1 MiB. A real frame of zeros
    /// whose decoded size is exactly that bound opens and decodes; one byte more is refused when
    /// the file is opened, before any buffer is sized from it.
    func testZstdExpansionLimit() throws {
        XCTAssertEqual(Pclip.maxExpansion, 4096)
        func bound(_ stored: Int) -> Int { stored * Pclip.maxExpansion + (1 << 20) }
        // The frame size barely depends on the (all-zero) content size: iterate to a fixed point.
        var frame: [UInt8] = [], stored = 16
        for _ in 0..<8 {
            let zeros = [UInt8](repeating: 0, count: bound(stored))
            frame = try zeros.withUnsafeBytes { try Zstd.compress($0, level: 3) }
            if frame.count == stored { break }
            stored = frame.count
        }
        XCTAssertEqual(frame.count, stored, "no frame size found whose bound it fills exactly")
        let n = UInt64(bound(stored))
        func entry(_ decoded: UInt64) -> RawEntry {
            RawEntry(dtype: PclipDType.bytes.rawValue, compression: PclipCompression.zstd.rawValue, dims: [decoded],
                     storedSize: UInt64(stored), decodedSize: decoded, crc: crc32(frame))
        }
        let f = try PclipFile(bytes: pclipBytes(payload: frame, entries: [entry(n)]))
        try f.data("t").withUnsafeBytes { XCTAssertEqual($0.count, Int(n)); XCTAssertTrue($0.allSatisfy { $0 == 0 }) }
        assertRefused("\(stored) compressed bytes cannot honestly hold \(n + 1) bytes") {
            _ = try PclipFile(bytes: pclipBytes(payload: frame, entries: [entry(n + 1)]))
        }
    }

    /// The metadata JSON is held to the same nesting limit as every JSON file (below).
    func testMetadataNestingLimit() throws {
        let deep = "{\"x\": " + String(repeating: "[", count: JSONLimits.maxDepth - 1) + String(repeating: "]", count: JSONLimits.maxDepth - 1) + "}"
        XCTAssertNotNil(try PclipFile(bytes: pclipBytes(metadata: deep)).metadata["x"])
        let deeper = "{\"x\": " + String(repeating: "[", count: JSONLimits.maxDepth) + String(repeating: "]", count: JSONLimits.maxDepth) + "}"
        assertRefused("nesting deeper than 64") { _ = try PclipFile(bytes: pclipBytes(metadata: deeper)) }
    }
}
