// The IDX limits of the README's "Safety and limits" at their edges: the image side
// (IDXReader.maxSide, 4096) passes at 4096 and is refused at 4097 from the header; the file size
// (IDXReader.maxFileBytes, 1 GiB) passes at the limit and is refused one byte over, before
// reading. Sides at the limit are claimed in the header (only a 1×4096 image gets real pixels);
// the file over the limit is sparse, so nothing near its size is written or allocated.

import CLIPTrain
@testable import CLIPTrainData
import Foundation
import CorpusSupport
import XCTest

final class IDXLimitEdgeTests: XCTestCase {
    /// IDX image bytes: magic 0x803, big-endian [n, rows, cols], payload.
    func images(_ n: UInt32, _ rows: UInt32, _ cols: UInt32, payload: [UInt8] = []) -> [UInt8] {
        DataIDXTests.idx(magic: IDXReader.imagesMagic, dims: [n, rows, cols], payload: payload)
    }

    func invalidIDXMessage(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try body()
            XCTFail("accepted; expected invalidIDX", file: file, line: line)
        } catch DataError.invalidIDX(let m) {
            return m
        } catch {
            XCTFail("expected invalidIDX, got \(error)", file: file, line: line)
        }
        return nil
    }

    func testFileSizeLimit() throws {
        XCTAssertEqual(IDXReader.maxFileBytes, 1 << 30)
        XCTAssertNoThrow(try IDXReader.checkSize(IDXReader.maxFileBytes, path: "x"))
        XCTAssertThrowsError(try IDXReader.checkSize(IDXReader.maxFileBytes + 1, path: "x")) { error in
            XCTAssertTrue("\(error)".contains("IDXReader.maxFileBytes"), "\(error)")
        }
        // End to end: a sparse file one byte over is refused by readImages before it is read.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("idx-\(UUID().uuidString)").path
        defer { unlink(path) }
        try makeSparseFile(path, size: IDXReader.maxFileBytes + 1)
        XCTAssertThrowsError(try IDXReader.readImages(path: path)) { error in
            XCTAssertTrue("\(error)".contains("\(IDXReader.maxFileBytes + 1) bytes, more than the \(IDXReader.maxFileBytes)"), "\(error)")
        }
    }

    func testImageSideLimit() throws {
        XCTAssertEqual(IDXReader.maxSide, 4096)
        let n = UInt32(IDXReader.maxSide)
        // With real pixels, a side of exactly the limit reads.
        let pixels = (0..<IDXReader.maxSide).map { UInt8(truncatingIfNeeded: $0) }
        for (r, c) in [(n, 1), (1, n)] as [(UInt32, UInt32)] {
            let im = try IDXReader.parseImages(images(1, r, c, payload: pixels))
            XCTAssertEqual([im.count, im.rows, im.columns], [1, Int(r), Int(c)])
            XCTAssertEqual(im.pixels, pixels)
        }
        // 4096×4096 claimed without its 16 MiB: past the side check, refused for the missing bytes.
        let atLimit = invalidIDXMessage { try IDXReader.parseImages(self.images(1, n, n)) }
        XCTAssertEqual(atLimit, "'<bytes>': header says 1 images of 4096×4096 = 16777216 bytes, the file holds 0 after the 16-byte header; the file is truncated or not this format (re-extract it)")
        // One more on either side is refused by the side check itself.
        for (r, c) in [(n + 1, 1), (1, n + 1), (n + 1, n + 1)] as [(UInt32, UInt32)] {
            let m = invalidIDXMessage { try IDXReader.parseImages(self.images(1, r, c)) }
            XCTAssertEqual(m, "'<bytes>': image size \(r)×\(c) is outside 1...4096 per side (IDXReader.maxSide; Fashion-MNIST's is 28×28); the header is corrupt or this is not an IDX image file: re-extract it")
        }
    }
}
