// The captions file's size limit (CaptionFile.maxFileBytes, 512 MiB) of the README's "Safety and
// limits" at its edge. A captions file at the limit is read whole, so that edge is tested on the
// size check as a function (the one parse(path:) runs before reading), and limit + 1 end to end
// with a sparse file, refused from its size before any byte is read.

@testable import CLIPTrainData
import Foundation
import CorpusSupport
import XCTest

final class CaptionLimitEdgeTests: XCTestCase {
    func testCaptionFileSizeCheckAtItsEdge() {
        XCTAssertEqual(CaptionFile.maxFileBytes, 512 << 20)
        XCTAssertNoThrow(try CaptionFile.checkSize(CaptionFile.maxFileBytes, path: "c.tsv"))
        XCTAssertThrowsError(try CaptionFile.checkSize(CaptionFile.maxFileBytes + 1, path: "c.tsv")) {
            XCTAssertEqual($0 as? CaptionDataError, .unreadable(path: "c.tsv", reason:
                "it is 536870913 bytes, more than the 536870912 (512 MiB) allowed (CaptionFile.maxFileBytes); check that this is the captions file (one image–caption pair per line)"))
        }
    }

    /// Both formats refuse a sparse file one byte over the limit, without reading it.
    func testOversizedCaptionFilesAreRefusedBeforeReading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("caption-limits-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["captions.tsv", "captions.jsonl"] {
            let path = try makeSparseFile(dir + "/" + name, head: Array("a.png\ta caption\n".utf8), size: CaptionFile.maxFileBytes + 1)
            XCTAssertThrowsError(try CaptionFile.parse(path: path), name) {
                guard case .unreadable(path, let reason)? = $0 as? CaptionDataError else { return XCTFail("\($0)") }
                XCTAssertTrue(reason.hasPrefix("it is 536870913 bytes, more than the 536870912 (512 MiB) allowed"), reason)
                XCTAssertTrue("\($0)".hasPrefix("cannot read captions file '\(path)': it is 536870913 bytes"), "\($0)")
            }
        }
    }
}
