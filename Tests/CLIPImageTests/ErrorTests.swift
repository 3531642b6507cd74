// ErrorTests.swift — bad input throws a descriptive ImageError; nothing crashes or over-allocates.
import CLIPSupport
import Foundation
import XCTest
@testable import CLIPImage

final class ErrorTests: XCTestCase {
    func assertThrows(_ expression: @autoclosure () throws -> Any, _ check: (ImageError) -> Bool,
                      file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try expression()
            XCTFail("expected an ImageError", file: file, line: line)
        } catch let e as ImageError {
            XCTAssert(check(e), "unexpected error: \(e)", file: file, line: line)
            XCTAssertGreaterThan(e.description.count, 30, file: file, line: line)
        } catch {
            XCTFail("expected an ImageError, got \(error)", file: file, line: line)
        }
    }

    // MARK: PNG building blocks (with valid CRCs, so only the tested defect is wrong)

    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return be32(body.count) + typed + be32(Int(crc32(typed)))
    }

    func be32(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }

    func png(width: Int, height: Int, idat: [UInt8] = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) -> [UInt8] {
        PNGDecoder.signature + chunk("IHDR", be32(width) + be32(height) + [8, 2, 0, 0, 0])
            + chunk("IDAT", idat) + chunk("IEND", [])
    }

    // MARK: files

    func testMissingFile() {
        assertThrows(try ImageDecoder.decode(path: "/nonexistent/dir/cat.png")) {
            if case .fileNotReadable(_, let reason) = $0 { return reason.contains("No such file") }
            return false
        }
    }

    func testDirectoryIsNotAnImage() {
        assertThrows(try ImageDecoder.decode(path: Fixtures.root.path)) {
            if case .fileNotReadable = $0 { return true } else { return false }
        }
    }

    func testNonImageBytes() throws {
        assertThrows(try ImageDecoder.decode(path: Fixtures.path("manifest.json"))) {
            if case .unknownFormat = $0 { return true } else { return false }
        }
        assertThrows(try ImageDecoder.decode(bytes: [])) {
            if case .unknownFormat = $0 { return true } else { return false }
        }
    }

    // MARK: format sniffing and its messages

    func message(_ bytes: [UInt8]) -> String {
        do {
            _ = try ImageDecoder.decode(bytes: bytes)
            return "decoded"
        } catch {
            return "\(error)"
        }
    }

    func testEmptyFileSaysSo() throws {
        XCTAssertEqual(message([]), "the file is empty (0 bytes); expected a PNG, JPEG or WebP image. It was probably "
            + "cut short while copying or downloading; fetch it again.")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.jpg").path
        XCTAssert(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertThrowsError(try ImageDecoder.decode(path: empty)) { XCTAssertEqual($0 as? ImageError, .unknownFormat(firstBytes: [])) }
    }

    /// `ff d8` alone is the start of a JPEG and no more: a truncated JPEG, not an unknown format
    /// whose message would expect the very bytes it shows.
    func testTwoByteJPEGStartIsTruncated() {
        XCTAssertEqual(message([0xFF, 0xD8]), "JPEG file is truncated: the file is only 2 bytes long (ff d8): the "
            + "start-of-image marker ff d8 and no more. The file was probably cut short while copying or downloading; fetch it again.")
    }

    func testShortSignaturesAreTruncated() {
        XCTAssertEqual(message([0x89, 0x50, 0x4E]), "PNG file is truncated: the file is only 3 bytes long (89 50 4e), "
            + "inside the 8-byte PNG signature. The file was probably cut short while copying or downloading; fetch it again.")
        for riff in [Array("RIFF".utf8), Array("RIFF".utf8) + [0x24, 0, 0, 0], Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WEB".utf8)] {
            XCTAssert(message(riff).hasPrefix("WebP file is truncated: the file is only \(riff.count) bytes long (52 49 46 46"), message(riff))
            XCTAssert(message(riff).contains("inside the 12-byte RIFF....WEBP header"), message(riff))
        }
        // A 1-byte ff, or ff d8 followed by something else, is no JPEG start (Pillow wants ff d8 ff).
        XCTAssert(message([0xFF]).hasPrefix("not a PNG, JPEG or WebP image (first bytes: ff);"), message([0xFF]))
        XCTAssert(message([0xFF, 0xD8, 0x00]).hasPrefix("not a PNG, JPEG or WebP image (first bytes: ff d8 00);"))
    }

    /// Two hex digits a byte (a BMP header has zero bytes), the three formats read named, and a
    /// recognised format that is not read named too.
    func testUnknownFormatMessageNamesWhatItFound() {
        let bmp: [UInt8] = [0x42, 0x4D, 0x36, 0x0C, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0]
        XCTAssertEqual(message(bmp), "not a PNG, JPEG or WebP image (first bytes: 42 4d 36 0c 00 00 00 00 00 00 36 00; "
            + "it looks like a BMP image, which is not read); expected a file starting with the PNG signature 89 50 4e 47, "
            + "the JPEG marker ff d8 ff or RIFF....WEBP. Convert the image to PNG, JPEG or WebP first.")
        let ftyp = [0, 0, 0, 0x20] + Array("ftyp".utf8)
        let named: [([UInt8], String)] = [
            (Array("GIF89a".utf8) + [1, 0, 1, 0], "a GIF image"),
            (Array("GIF87a".utf8), "a GIF image"),
            ([0x49, 0x49, 0x2A, 0, 8, 0, 0, 0], "a TIFF image"),
            ([0x4D, 0x4D, 0, 0x2A, 0, 0, 0, 8], "a TIFF image"),
            (ftyp + Array("heic".utf8), "a HEIC/HEIF image (ftyp heic)"),
            (ftyp + Array("mif1".utf8), "a HEIC/HEIF image (ftyp mif1)"),
            (ftyp + Array("avif".utf8), "an AVIF image (ftyp avif)"),
            (ftyp + Array("isom".utf8), "an ISO media file (ftyp isom), such as a video"),
            (Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WAVE".utf8), "a RIFF file of another kind (not WEBP), such as WAV or AVI"),
            ([0xFF, 0x0A, 0xFA, 0x7F], "a JPEG XL image"),
            (Array("%PDF-1.7".utf8), "a PDF document"),
        ]
        for (bytes, what) in named {
            XCTAssert(message(bytes).contains("; it looks like \(what), which is not read); expected"), message(bytes))
        }
        let text = Array("this is text".utf8)
        XCTAssertEqual(message(text), "not a PNG, JPEG or WebP image (first bytes: 74 68 69 73 20 69 73 20 74 65 78 74); "
            + "expected a file starting with the PNG signature 89 50 4e 47, the JPEG marker ff d8 ff or RIFF....WEBP. "
            + "Convert the image to PNG, JPEG or WebP first.")
    }

    /// A file is refused from its first 12 bytes before the rest is read, with the same message.
    func testFileSniffingMatchesBytes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for bytes: [UInt8] in [[0xFF, 0xD8], [0x42, 0x4D, 0x36, 0x0C, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28], Array("RIFF".utf8)] {
            let file = dir.appendingPathComponent("x.png").path
            XCTAssert(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
            do {
                _ = try ImageDecoder.decode(path: file)
                XCTFail("decoded \(bytes)")
            } catch {
                XCTAssertEqual("\(error)", message(bytes))
            }
        }
    }

    // MARK: truncated and corrupt

    func testTruncatedPNG() throws {
        let full = try Fixtures.bytes("in/rgb_300x200.png")
        for cut in [5, 20, 40, full.count / 2, full.count - 200] {
            assertThrows(try ImageDecoder.decode(bytes: Array(full.prefix(cut)))) {
                if case .truncated(let f, _) = $0 { return f == "PNG" } else { return false }
            }
        }
    }

    /// Pillow decodes a PNG whose IEND (and last CRC) is missing once all image data is there; so do we.
    func testPNGMissingOnlyIENDStillDecodes() throws {
        let full = try Fixtures.bytes("in/rgb_300x200.png")
        XCTAssertEqual(try ImageDecoder.decode(bytes: Array(full.dropLast(13))), try ImageDecoder.decode(bytes: full))
    }

    func testCorruptPNGChunkIsCaughtByCRC() throws {
        var bytes = try Fixtures.bytes("in/rgb_300x200.png")
        bytes[bytes.count / 2] ^= 0x55
        assertThrows(try ImageDecoder.decode(bytes: bytes)) {
            if case .corrupt = $0 { return true } else { return false }
        }
    }

    func testCorruptDeflateData() {
        // A valid chunk (good CRC) whose zlib stream uses the reserved block type 3.
        assertThrows(try ImageDecoder.decode(bytes: png(width: 2, height: 2, idat: [0x78, 0x9C, 0x07, 0x00]))) {
            if case .corrupt = $0 { return true } else { return false }
        }
    }

    func testTruncatedJPEG() throws {
        let full = try Fixtures.bytes("in/jpeg_420_320x240.jpg")
        // Pillow refuses all of these ("image file is truncated"), even when only EOI is missing.
        for cut in [full.count / 2, full.count - 100, full.count - 2] {
            assertThrows(try ImageDecoder.decode(bytes: Array(full.prefix(cut)))) {
                if case .truncated(let f, _) = $0 { return f == "JPEG" } else { return false }
            }
        }
        assertThrows(try ImageDecoder.decode(bytes: Array(full.prefix(40)))) { _ in true }
    }

    // MARK: dimensions

    func testZeroDimensionsPNG() {
        assertThrows(try ImageDecoder.decode(bytes: png(width: 0, height: 10))) {
            if case .zeroDimensions = $0 { return true } else { return false }
        }
    }

    /// A 100000 x 100000 header with 8 bytes of data: refused from the header, before any allocation.
    func testDecompressionBombPNGIsRefusedFromHeader() {
        assertThrows(try ImageDecoder.decode(bytes: png(width: 100_000, height: 100_000))) {
            if case .tooManyPixels(let w, let h, let limit) = $0 {
                return w == 100_000 && h == 100_000 && limit == ImageLimits.maxPixelCount
            }
            return false
        }
    }

    func testDecompressionBombJPEGIsRefusedFromHeader() throws {
        var bytes = try Fixtures.bytes("in/jpeg_420_320x240.jpg")
        // Patch the SOF0 frame header: FF C0, length (2), precision (1), height (2), width (2).
        let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        for i in [5, 7] {
            bytes[sof + i] = 0xFD
            bytes[sof + i + 1] = 0xE8  // 65000
        }
        assertThrows(try ImageDecoder.decode(bytes: bytes)) {
            if case .tooManyPixels(65000, 65000, _) = $0 { return true } else { return false }
        }
    }

    /// Within the pixel limit but with 8 bytes of data: refused before the 120 MB buffer exists.
    func testPNGClaimingMoreThanItsDataCanHoldIsRefused() {
        assertThrows(try ImageDecoder.decode(bytes: png(width: 8000, height: 5000))) {
            if case .corrupt(_, let detail) = $0 { return detail.contains("cannot hold") } else { return false }
        }
    }

    func testCallerPixelLimit() {
        assertThrows(try ImageDecoder.decode(path: Fixtures.path("in/rgb_300x200.png"), maxPixels: 1000)) {
            if case .tooManyPixels(300, 200, 1000) = $0 { return true } else { return false }
        }
    }

    // MARK: config

    func testInvalidConfig() throws {
        let image = try ImageDecoder.decode(path: Fixtures.path("in/rgb_10x13.png"))
        var c = PreprocessConfig.openAI(size: 0)
        assertThrows(try Preprocessor.pixels(image, config: c)) {
            if case .invalidConfig = $0 { return true } else { return false }
        }
        c = .openAI(size: 32)
        c.std = [1, 0, 1]
        assertThrows(try Preprocessor.pixels(image, config: c)) {
            if case .invalidConfig = $0 { return true } else { return false }
        }
        c.std = [1, 1]
        assertThrows(try Preprocessor.pixels(image, config: c)) {
            if case .invalidConfig = $0 { return true } else { return false }
        }
    }

    func testInconsistentHandBuiltImage() {
        let image = DecodedImage(mode: .rgb, width: 4, height: 4, pixels: [UInt8](repeating: 0, count: 47))
        assertThrows(try Preprocessor.pixels(image, config: .openAI(size: 8))) {
            if case .invalidArgument = $0 { return true } else { return false }
        }
    }

    func testConfigRoundTripsThroughCodable() throws {
        let c = PreprocessConfig.huggingFace(size: 336)
        XCTAssertEqual(try JSONDecoder().decode(PreprocessConfig.self, from: JSONEncoder().encode(c)), c)
    }
}

/// Deterministic mutation smoke test: damaged files must decode or throw, never trap.
final class MutationTests: XCTestCase {
    static let iterationsPerFile = 150

    func testRandomlyDamagedFilesNeverCrash() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {  // splitmix64: reproducible without Foundation's random
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
        }
        let files = ["in/p4_trns_133x71.png", "in/rgb_interlaced_150x113.png", "in/g16_110x90.png",
                     "in/jpeg_progressive_300x225.jpg", "in/jpeg_cmyk_160x120.jpg"]
        var decoded = 0, refused = 0
        for name in files {
            let original = try Fixtures.bytes(name)
            for _ in 0..<Self.iterationsPerFile {
                var bytes = original
                for _ in 0..<(1 + next() % 4) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
                if next() % 3 == 0 { bytes = Array(bytes.prefix(next() % bytes.count)) }
                // Half the time repair PNG chunk CRCs, so the damage reaches inflate and the filters.
                if name.hasSuffix(".png") && next() % 2 == 0 { bytes = Self.fixCRCs(bytes) }
                do {
                    let image = try ImageDecoder.decode(bytes: bytes)
                    _ = try Preprocessor.rgb8(image, config: .openAI(size: 16))
                    decoded += 1
                } catch is ImageError {
                    refused += 1
                }
            }
        }
        XCTAssertEqual(decoded + refused, files.count * Self.iterationsPerFile)
        XCTAssertGreaterThan(refused, 0)
    }

    /// Recomputes every complete chunk's CRC (chunk layout: length, type, data, CRC).
    static func fixCRCs(_ input: [UInt8]) -> [UInt8] {
        var b = input
        var pos = 8
        while pos + 12 <= b.count {
            let len = Int(b[pos]) << 24 | Int(b[pos + 1]) << 16 | Int(b[pos + 2]) << 8 | Int(b[pos + 3])
            guard pos + 12 + len <= b.count else { break }
            let c = crc32(Array(b[(pos + 4)..<(pos + 8 + len)]))
            for i in 0..<4 { b[pos + 8 + len + i] = UInt8(truncatingIfNeeded: c >> UInt32(24 - 8 * i)) }
            pos += 12 + len
        }
        return b
    }
}
