// ErrorTests.swift — bad input throws a descriptive ImageError; nothing crashes or over-allocates.
import CLIPSupport
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
