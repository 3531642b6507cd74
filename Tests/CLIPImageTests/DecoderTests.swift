// DecoderTests.swift — decoded samples, mode and palette equal what Pillow's Image.open gives.
import CLIPSupport
import XCTest
@testable import CLIPImage

final class DecoderTests: XCTestCase {
    /// Every PNG input's full decoded sample buffer is compared with Pillow's through a CRC-32
    /// stored by tools/goldens/image-goldens.py (the crops in GoldenPreprocessTests see only part
    /// of each image). JPEGs are left to GoldenPreprocessTests' one-level tolerance: the system
    /// libjpeg-turbo need not be the one in Pillow's wheel (here 2.1.5 vs 3.2.0 agree exactly).
    func testDecodedPNGSamplesEqualPillow() throws {
        var seen = Set<String>()
        var failures: [String] = []
        for c in try Fixtures.manifest().cases {
            guard !c.jpeg, let want = c.decodedCRC, seen.insert(c.input).inserted else { continue }
            let image = try ImageDecoder.decode(path: Fixtures.path(c.input))
            let bytes: [UInt8] = image.mode == .gray16
                ? image.samples16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
                : image.pixels
            if crc32(bytes) != want { failures.append("\(c.input): samples differ from Pillow's") }
            if let pal = c.paletteCRC, crc32(image.palette) != pal {
                failures.append("\(c.input): palette differs from Pillow's")
            }
        }
        XCTAssertGreaterThanOrEqual(seen.count, 20)
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n"))
    }

    func testModesFollowPillowForEachPNGLayout() throws {
        let expected: [String: PixelMode] = [
            "in/bilevel_120x90.png": .bilevel, "in/g2_70x90.png": .gray, "in/g4_91x70.png": .gray,
            "in/g16_110x90.png": .gray16, "in/la_150x97.png": .grayAlpha, "in/la16_80x66.png": .rgba,
            "in/p1_77x50.png": .palette, "in/p4_trns_133x71.png": .palette, "in/rgb16_100x75.png": .rgb,
            "in/rgba16_90x120.png": .rgba, "in/jpeg_cmyk_160x120.jpg": .cmyk, "in/jpeg_gray_200x150.jpg": .gray,
        ]
        for (path, mode) in expected {
            XCTAssertEqual(try ImageDecoder.decode(path: Fixtures.path(path)).mode, mode, path)
        }
        // The mode strings Pillow reports are the same as ours.
        for c in try Fixtures.manifest().cases {
            XCTAssertEqual(try ImageDecoder.decode(path: Fixtures.path(c.input)).mode.rawValue, c.mode, c.input)
        }
    }

    func testTransparencyIsKeptForTheHFOrder() throws {
        let p = try ImageDecoder.decode(path: Fixtures.path("in/p4_trns_133x71.png"))
        XCTAssertEqual(p.paletteAlpha?.count, 10)
        let rgb = try ImageDecoder.decode(path: Fixtures.path("in/rgb_trns_96x64.png"))
        XCTAssertEqual(rgb.transparentKey?.count, 3)
    }
}
