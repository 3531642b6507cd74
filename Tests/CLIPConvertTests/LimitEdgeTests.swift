// The converter's input limits of the README's "Safety and limits" at their edges: the
// safetensors header length (Safetensors.maxHeaderBytes) and rank (Safetensors.maxRank), and
// the size of a checkpoint's config JSON files (maxConfigBytes). Lengths at the limit are claimed
// by sparse files, never written out.

@testable import CLIPConvert
import CLIPFormat
import CLIPSupport
import CorpusSupport
import Foundation
import XCTest

final class ConvertLimitEdgeTests: XCTestCase {
    /// Peak-RSS growth allowed while a header at the limit is refused: a fraction of its 100 MB.
    static let maxPeakGrowthBytes = 32 << 20

    var dir = ""
    override func setUpWithError() throws { dir = try temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A file of `size` bytes whose first bytes are `head` and the rest a hole (no disk, no memory).
    func sparse(_ name: String, head: [UInt8], size: Int) throws -> String {
        try makeSparseFile(dir + "/" + name, head: head, size: size)
    }

    func le64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// A header of exactly maxHeaderBytes, in a file that holds them, passes the length check:
    /// the first header byte is then read alone (a hole, not '{'), so the 100 MB are never
    /// allocated. One byte more is refused from the 8-byte length field.
    func testSafetensorsHeaderLengthLimit() throws {
        XCTAssertEqual(Safetensors.maxHeaderBytes, 100_000_000)
        let n = Safetensors.maxHeaderBytes
        let atLimit = try sparse("at.safetensors", head: le64(n), size: 8 + n)
        var thrown: Error?
        let growth = PeakMemory.growth {
            do { _ = try SafetensorsFile(path: atLimit) } catch { thrown = error }
        }
        XCTAssertEqual(thrown as? SafetensorsError, .headerJSON(path: atLimit, detail: "it does not start with '{'"))
        if let growth { XCTAssertLessThan(growth, Self.maxPeakGrowthBytes, "the header was read whole") }
        let over = try sparse("over.safetensors", head: le64(n + 1), size: 8 + n + 1)
        XCTAssertThrowsError(try SafetensorsFile(path: over)) {
            XCTAssertEqual($0 as? SafetensorsError, .headerLength(path: over, declared: UInt64(n + 1), fileSize: 8 + n + 1))
            XCTAssertTrue("\($0)".contains("declares 100000001 header bytes, more than the 100000000-byte limit"), "\($0)")
        }
        // At the limit in a file too short for it: refused as truncated, not as over the limit.
        let short = try sparse("short.safetensors", head: le64(n), size: 64)
        XCTAssertThrowsError(try SafetensorsFile(path: short)) {
            XCTAssertTrue("\($0)".contains("declares 100000000 header bytes, but the file has only 64 bytes"), "\($0)")
        }
    }

    func safetensors(shape: [Int]) -> [UInt8] {
        let header = #"{"t":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#
        return le64(header.utf8.count) + Array(header.utf8) + [0, 0, 0x80, 0x3F]
    }

    func testSafetensorsRankLimit() throws {
        XCTAssertEqual(Safetensors.maxRank, 8)
        let eight = [Int](repeating: 1, count: Safetensors.maxRank)
        let f = try SafetensorsFile(bytes: safetensors(shape: eight))
        XCTAssertEqual(try f.floatTensor("t").shape, eight)
        XCTAssertEqual(try f.floatTensor("t").values, [1])
        XCTAssertThrowsError(try SafetensorsFile(bytes: safetensors(shape: eight + [1]))) {
            XCTAssertEqual($0 as? SafetensorsError, .badEntry(path: "<memory>", tensor: "t", detail: "9 dimensions (limit 8)"))
        }
    }

    /// A config file of exactly maxConfigBytes is read (and here refused as JSON: a hole is not
    /// JSON); one byte more is refused from its size before it is read.
    func testConfigFileSizeLimit() throws {
        XCTAssertEqual(maxConfigBytes, 16 << 20)
        let atLimit = try sparse("at.json", head: [], size: maxConfigBytes)
        XCTAssertThrowsError(try readJSONFile(atLimit)) {
            guard case .badConfig(atLimit, let detail)? = $0 as? CheckpointError else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.hasPrefix("invalid JSON at byte 0"), detail)
        }
        let over = try sparse("over.json", head: Array("{}".utf8), size: maxConfigBytes + 1)
        XCTAssertThrowsError(try readJSONFile(over)) {
            XCTAssertEqual($0 as? FileError, .readFailed(path: over, reason: "file is 16777217 bytes, more than the 16777216 allowed for it"))
        }
    }
}
