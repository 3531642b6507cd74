// ConvertTests.swift — Pillow's mode conversions, exhaustively over all (value, alpha) pairs.
import XCTest
@testable import CLIPImage

final class ConvertTests: XCTestCase {
    /// Grid in the fixtures: row = value 0...255, column = alpha 0...255.
    func grid(_ f: (Int, Int) -> UInt8) -> [UInt8] {
        (0..<256).flatMap { v in (0..<256).map { a in f(v, a) } }
    }

    func testPremultiplyMatchesPillowRGBa() throws {
        let got = grid { v, a -> UInt8 in
            var out = [UInt8](repeating: 0, count: 4)
            premultiply([UInt8(v), UInt8(v), UInt8(v), UInt8(a)], count: 1, channels: 4, into: &out)
            return out[0]
        }
        XCTAssertEqual(got, try Fixtures.bytes("convert/premultiply.raw"))
    }

    func testUnpremultiplyMatchesPillowRGBA() throws {
        let got = grid { v, a in
            var px: [UInt8] = [UInt8(v), UInt8(a)]
            unpremultiply(&px, channels: 2)
            return px[0]
        }
        XCTAssertEqual(got, try Fixtures.bytes("convert/unpremultiply.raw"))
    }

    func testCompositeOnWhiteMatchesPillowAlphaComposite() throws {
        let got = grid { v, a in compositeOnWhite(v, alpha: a) }
        XCTAssertEqual(got, try Fixtures.bytes("convert/composite_white.raw"))
    }

    func testCMYKToRGBMatchesPillow() throws {
        let cmyk = try Fixtures.bytes("convert/cmyk.raw")
        XCTAssertEqual(convertToRGB(cmyk, mode: .cmyk, palette: []), try Fixtures.bytes("convert/cmyk_rgb.raw"))
    }

    func testGrayAndPaletteToRGB() {
        XCTAssertEqual(convertToRGB([0, 255, 7], mode: .gray, palette: []), [0, 0, 0, 255, 255, 255, 7, 7, 7])
        XCTAssertEqual(convertToRGB([9, 200, 42, 0], mode: .grayAlpha, palette: []), [9, 9, 9, 42, 42, 42])
        // Index 2 is past a 2-entry palette: black, as Pillow's zero-filled palette gives.
        XCTAssertEqual(convertToRGB([1, 0, 2], mode: .palette, palette: [1, 2, 3, 4, 5, 6]), [4, 5, 6, 1, 2, 3, 0, 0, 0])
    }
}
