// WebPTests.swift — WebP files decode to Pillow's samples and preprocess to open_clip's and HF's
// bytes exactly (goldens in Tests/Fixtures/images/webp, written by tools/goldens/webp-goldens.py);
// cut, damaged and oversized WebP files give one-line errors.
import CLIPSupport
import Foundation
import XCTest
@testable import CLIPImage

final class WebPTests: XCTestCase {
    struct Sample: Decodable {
        let input: String
        let mode: String
        let width: Int
        let height: Int
        let frames: Int
        let decodedCRC: UInt32
    }

    struct Case: Decodable {
        let name: String
        let input: String
        let size: Int
        let order: String
        let expected: String
        let expectedFloat: String?
    }

    struct Manifest: Decodable {
        let images: [Sample]
        let cases: [Case]
    }

    func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("webp/manifest.json")))
    }

    func path(_ name: String) -> String { Fixtures.path("webp/" + name) }

    /// Pillow's mode, size and samples, CRC-32 over its in-memory layout. Exact: Debian's libwebp
    /// 1.2.4 and the 1.6.0 in Pillow's wheel decode these files to the same bits (WebPDecoder.swift).
    func testDecodedSamplesEqualPillows() throws {
        let images = try manifest().images
        XCTAssertEqual(Set(images.map(\.mode)), ["RGB", "RGBA"])
        XCTAssert(images.contains { $0.frames > 1 }, "the samples must hold an animation")
        for image in images {
            let decoded = try ImageDecoder.decode(path: path(image.input))
            XCTAssertEqual(decoded.mode.rawValue, image.mode, image.input)
            XCTAssertEqual([decoded.width, decoded.height], [image.width, image.height], image.input)
            XCTAssertEqual(decoded.pixels.count, image.width * image.height * decoded.mode.channels, image.input)
            XCTAssertEqual(crc32(decoded.pixels), image.decodedCRC, image.input)
        }
    }

    /// The same through `decode(bytes:)`, and a file's format is found from its bytes, not its name.
    func testBytesDecodeLikeTheFile() throws {
        let bytes = try Fixtures.bytes("webp/lossy_alpha_90x67.webp")
        XCTAssertEqual(try ImageDecoder.decode(bytes: bytes), try ImageDecoder.decode(path: path("lossy_alpha_90x67.webp")))
    }

    /// Both orders (open_clip resizes RGBA premultiplied then converts; HF composites onto white
    /// first), bit for bit: the decoded samples are Pillow's and the rest is the PNG path's exact
    /// integer arithmetic (GoldenPreprocessTests.pngTolerance, zero).
    func testPreprocessedCropsEqualTheReferences() throws {
        let cases = try manifest().cases
        XCTAssertEqual(Set(cases.map(\.order)), ["openclip", "hf"])
        var failures: [String] = []
        for c in cases {
            let config: PreprocessConfig = c.order == "hf" ? .huggingFace(size: c.size) : .openAI(size: c.size)
            let got = try Preprocessor.rgb8(try ImageDecoder.decode(path: path(c.input)), config: config)
            let want = try Fixtures.bytes("webp/" + c.expected)
            if got != want {
                failures.append("\(c.name): \(zip(got, want).filter { $0 != $1 }.count) of \(want.count) bytes differ, max \(maxAbsDiff(got, want))")
            }
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n"))
    }

    func testNormalizedFloatsEqualOpenCLIP() throws {
        let cases = try manifest().cases.filter { $0.expectedFloat != nil }
        XCTAssertEqual(cases.count, 1)
        for c in cases {
            let got = try Preprocessor.pixels(path: path(c.input), config: .openAI(size: c.size))
            let want = try Fixtures.floats("webp/" + c.expectedFloat!)
            XCTAssertEqual(got.count, want.count)
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, GoldenPreprocessTests.floatTolerance, c.name)
        }
    }

    /// EXIF orientation 6 is stored but not applied (Pillow's Image.open does not rotate), and the
    /// ICC profile converts nothing: the image stays 64x48.
    func testEXIFAndICCChangeNothing() throws {
        let bytes = try Fixtures.bytes("webp/lossy_exif_icc_64x48.webp")
        XCTAssert(bytes.count > 12 && String(decoding: bytes[12..<16], as: UTF8.self) == "VP8X")
        XCTAssertNotNil(bytes.indices.dropLast(4).first { String(decoding: bytes[$0..<($0 + 4)], as: UTF8.self) == "EXIF" })
        let image = try ImageDecoder.decode(bytes: bytes)
        XCTAssertEqual([image.width, image.height], [64, 48])
    }

    // MARK: bad files

    func expectError(_ bytes: [UInt8], _ label: String, _ check: (ImageError) -> Bool,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ImageDecoder.decode(bytes: bytes)
            XCTFail("\(label): decoded; expected an ImageError", file: file, line: line)
        } catch let e as ImageError {
            XCTAssert(check(e), "\(label): unexpected error: \(e)", file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), "\(label): the message must be one line", file: file, line: line)
        } catch {
            XCTFail("\(label): expected an ImageError, got \(error)", file: file, line: line)
        }
    }

    /// Every kind of file cut short, at many points: an error, never a crash or a partial image
    /// (Pillow refuses all of them: its demuxer cannot parse a cut file). Past the 12-byte header
    /// the error is "truncated", from the RIFF size or libwebp's status.
    func testTruncatedFilesAreRefused() throws {
        for name in ["lossy_rgb_100x75.webp", "lossy_alpha_90x67.webp", "lossless_rgb_75x100.webp", "animated_80x60.webp"] {
            let full = try Fixtures.bytes("webp/" + name)
            var cuts = Array(stride(from: 1, to: full.count, by: max(full.count / 40, 1)))
            cuts += [full.count - 1, full.count - 2]
            for cut in cuts {
                expectError(Array(full.prefix(cut)), "\(name) cut at \(cut)") {
                    if case .truncated("WebP", _) = $0 { return cut >= 4 }
                    if case .unknownFormat = $0 { return cut < 4 }
                    return false
                }
            }
        }
    }

    /// What the user reads for a file cut in half.
    func testTruncatedMessage() throws {
        let full = try Fixtures.bytes("webp/lossy_rgb_100x75.webp")
        let half = full.count / 2
        XCTAssertThrowsError(try ImageDecoder.decode(bytes: Array(full.prefix(half)))) {
            XCTAssertEqual("\($0)", "WebP file is truncated: the RIFF header promises \(full.count) bytes, the file has \(half). "
                + "The file was probably cut short while copying or downloading; fetch it again.")
        }
    }

    /// A damaged VP8 frame header (its start code 9d 01 2a) and a damaged VP8L signature.
    func testCorruptBitstreamsAreRefused() throws {
        var lossy = try Fixtures.bytes("webp/lossy_rgb_100x75.webp")
        XCTAssertEqual(Array(lossy[23..<26]), [0x9D, 0x01, 0x2A])
        lossy[24] ^= 0xFF
        expectError(lossy, "VP8 start code") {
            if case .corrupt("WebP", _) = $0 { return true } else { return false }
        }
        var lossless = try Fixtures.bytes("webp/lossless_rgb_75x100.webp")
        XCTAssertEqual(lossless[20], 0x2F)
        lossless[20] = 0x00
        expectError(lossless, "VP8L signature") {
            if case .corrupt("WebP", _) = $0 { return true } else { return false }
        }
        // RIFF....WEBP whose first chunk is none of VP8, VP8L, VP8X.
        var other = try Fixtures.bytes("webp/lossy_rgb_100x75.webp")
        other.replaceSubrange(12..<16, with: Array("JUNK".utf8))
        expectError(other, "unknown first chunk") {
            if case .corrupt("WebP", _) = $0 { return true } else { return false }
        }
    }

    /// A lossless header claiming 16384 x 16384 (the format's largest) in a 30-byte file: refused
    /// from the header, before anything that size is allocated.
    func testDecompressionBombIsRefusedFromHeader() {
        let bits: UInt32 = 16383 | (16383 << 14)  // width - 1, height - 1; no alpha, version 0
        var vp8l: [UInt8] = [0x2F] + (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
        vp8l += [0, 0, 0, 0, 0]
        let chunk = Array("VP8L".utf8) + le32(vp8l.count) + vp8l
        let file = Array("RIFF".utf8) + le32(4 + chunk.count) + Array("WEBP".utf8) + chunk
        expectError(file, "16384 x 16384") { $0 == .tooManyPixels(width: 16384, height: 16384, limit: ImageLimits.maxPixelCount) }
        XCTAssertThrowsError(try ImageDecoder.decode(path: path("lossy_rgb_100x75.webp"), maxPixels: 100 * 75 - 1)) {
            XCTAssertEqual($0 as? ImageError, .tooManyPixels(width: 100, height: 75, limit: 100 * 75 - 1))
        }
    }

    /// An animation's canvas is checked too (VP8X canvas size, 24 bits each).
    func testAnimationCanvasBombIsRefused() throws {
        var bytes = try Fixtures.bytes("webp/animated_80x60.webp")
        XCTAssertEqual(String(decoding: bytes[12..<16], as: UTF8.self), "VP8X")
        for offset in [24, 27] { bytes.replaceSubrange(offset..<(offset + 3), with: [0xFF, 0x3F, 0x00]) }  // 16384
        expectError(bytes, "animated 16384 x 16384") { $0 == .tooManyPixels(width: 16384, height: 16384, limit: ImageLimits.maxPixelCount) }
    }

    func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}
