// The image limits of the README's "Safety and limits" at their edges: ImageLimits.maxPixelCount
// from the header, before any pixel buffer exists, and ImageDecoder.maxFileBytes from the file's
// size, before it is read. Nothing here allocates the limit's worth: headers claim the pixels,
// sparse files claim the bytes.

@testable import CLIPImage
import CLIPSupport
import CorpusSupport
import Foundation
import XCTest

final class ImageLimitEdgeTests: XCTestCase {
    /// Peak-RSS growth allowed across one test: far below any limit's worth (89 M pixels are
    /// 268 MB of RGB; the file limit is 1 GiB), far above what XCTest and a small decode use.
    static let maxPeakGrowthBytes = 64 << 20

    func assertError(_ body: @autoclosure () throws -> Any, _ expected: (ImageError) -> Bool,
                     file: StaticString = #filePath, line: UInt = #line) {
        let growth = PeakMemory.growth {
            do {
                _ = try body()
                XCTFail("decoded; expected an ImageError", file: file, line: line)
            } catch let e as ImageError {
                XCTAssertTrue(expected(e), "unexpected error: \(e)", file: file, line: line)
            } catch {
                XCTFail("expected an ImageError, got \(error)", file: file, line: line)
            }
        }
        if let growth { XCTAssertLessThan(growth, Self.maxPeakGrowthBytes, "peak RSS grew", file: file, line: line) }
    }

    func be32(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }

    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return be32(body.count) + typed + be32(Int(crc32(typed)))
    }

    /// An 8-bit RGB PNG header claiming `width` x `height`, with one tiny (valid) zlib stream.
    func png(width: Int, height: Int) -> [UInt8] {
        PNGDecoder.signature + chunk("IHDR", be32(width) + be32(height) + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
    }

    func isTooManyPixels(_ w: Int, _ h: Int) -> (ImageError) -> Bool {
        { e in
            if case .tooManyPixels(w, h, ImageLimits.maxPixelCount) = e {
                return e.description.contains("\(w * h) pixels, above the limit of \(ImageLimits.maxPixelCount)")
            }
            return false
        }
    }

    /// 6235 x 14351 = 89,478,485 exactly passes the pixel check; the next check (8 bytes of
    /// data cannot hold that many pixels) refuses it, still before the pixel buffer exists.
    /// 2 x 44,739,243 = the limit + 1 is refused by the pixel check itself.
    func testPNGPixelCountLimit() {
        XCTAssertEqual(ImageLimits.maxPixelCount, 89_478_485)
        XCTAssertEqual(6235 * 14351, ImageLimits.maxPixelCount)
        assertError(try ImageDecoder.decode(bytes: png(width: 6235, height: 14351))) {
            if case .corrupt("PNG", let detail) = $0 { return detail.contains("cannot hold 6235x14351 pixels") }
            return false
        }
        XCTAssertEqual(2 * 44_739_243, ImageLimits.maxPixelCount + 1)
        assertError(try ImageDecoder.decode(bytes: png(width: 2, height: 44_739_243)), isTooManyPixels(2, 44_739_243))
        assertError(try ImageDecoder.decode(bytes: png(width: ImageLimits.maxPixelCount + 1, height: 1)),
                    isTooManyPixels(ImageLimits.maxPixelCount + 1, 1))
    }

    /// A JPEG frame header states 16-bit sides, and no such pair multiplies to the limit + 1 or
    /// + 2; 8102 x 11044 = the limit + 3 is the nearest count above it, refused from the header.
    /// (At the limit itself a JPEG needs its 268 MB buffer to decode — the JPEG decoder has no
    /// "data cannot hold it" bound, since a flat progressive JPEG can be tiny — so the edge of the
    /// same check is shown below with a caller's limit on a real file.)
    func testJPEGPixelCountLimit() throws {
        XCTAssertEqual(8102 * 11044, ImageLimits.maxPixelCount + 3)
        var bytes = try Fixtures.bytes("in/jpeg_420_320x240.jpg")
        let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        // SOF0: FF C0, length (2), precision (1), height (2), width (2).
        bytes.replaceSubrange((sof + 5)..<(sof + 9), with: [UInt8(11044 >> 8), UInt8(11044 & 255), UInt8(8102 >> 8), UInt8(8102 & 255)])
        assertError(try ImageDecoder.decode(bytes: bytes), isTooManyPixels(8102, 11044))
    }

    /// The check's edge with a caller's limit, on both decoders: exactly width x height decodes,
    /// one pixel less refuses.
    func testCallerLimitEdgeOnRealFiles() throws {
        for (name, w, h) in [("in/jpeg_420_320x240.jpg", 320, 240), ("in/rgb_300x200.png", 300, 200)] {
            let image = try ImageDecoder.decode(path: Fixtures.path(name), maxPixels: w * h)
            XCTAssertEqual([image.width, image.height], [w, h], name)
            XCTAssertThrowsError(try ImageDecoder.decode(path: Fixtures.path(name), maxPixels: w * h - 1), name) {
                XCTAssertEqual($0 as? ImageError, .tooManyPixels(width: w, height: h, limit: w * h - 1), name)
            }
        }
    }

    /// A sparse file of exactly 1 GiB passes the size check and is refused from its first 12
    /// bytes (not a PNG, JPEG or WebP) without being read; 1 GiB + 1 is refused from its size alone,
    /// even with a PNG signature.
    func testFileSizeLimit() throws {
        XCTAssertEqual(ImageDecoder.maxFileBytes, 1 << 30)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("image-limits-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func sparse(_ name: String, size: Int, head: [UInt8]) throws -> String {
            try makeSparseFile(dir + "/" + name, head: head, size: size)
        }
        let atLimit = try sparse("at.png", size: ImageDecoder.maxFileBytes, head: [])
        assertError(try ImageDecoder.decode(path: atLimit)) { $0 == .unknownFormat(firstBytes: [UInt8](repeating: 0, count: 12)) }
        for head in [[], PNGDecoder.signature] {
            let over = try sparse("over.png", size: ImageDecoder.maxFileBytes + 1, head: head)
            assertError(try ImageDecoder.decode(path: over)) {
                if case .fileNotReadable(over, let reason) = $0 {
                    return reason == "file is \(ImageDecoder.maxFileBytes + 1) bytes, above the \(ImageDecoder.maxFileBytes)-byte limit (ImageDecoder.maxFileBytes)"
                }
                return false
            }
        }
    }

    /// The preprocessing size a config (or a .pclip's `preprocess.size`) may ask for; checked
    /// before the output buffers are sized from it.
    func testPreprocessSizeLimit() throws {
        XCTAssertEqual(PreprocessConfig.maxSize, 4096)
        XCTAssertNoThrow(try PreprocessConfig.openAI(size: PreprocessConfig.maxSize).validate())
        XCTAssertThrowsError(try PreprocessConfig.openAI(size: PreprocessConfig.maxSize + 1).validate()) {
            XCTAssertEqual($0 as? ImageError, .invalidConfig("size is 4097; expected 1...4096 (224 for most CLIP models)"))
        }
    }

    /// Reading the signature first changes nothing for short or truncated files.
    func testShortFilesGiveTheSameErrorsAsBeforeTheSignatureCheck() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("image-short-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for bytes in [[], [0x89], Array(PNGDecoder.signature.prefix(5)), [0xFF, 0xD8], [0xFF, 0xD8, 0xFF], [1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            let path = dir + "/f"
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            var fromPath = "", fromBytes = ""
            do { _ = try ImageDecoder.decode(path: path) } catch { fromPath = "\(error)" }
            do { _ = try ImageDecoder.decode(bytes: bytes) } catch { fromBytes = "\(error)" }
            XCTAssertEqual(fromPath, fromBytes, "\(bytes)")
            XCTAssertFalse(fromPath.isEmpty, "\(bytes) must be refused")
        }
    }
}
