// ResizeTests.swift — resizeBicubic on its own against Pillow's Image.resize(BICUBIC).
import XCTest
@testable import CLIPImage

final class ResizeTests: XCTestCase {
    /// Fixed-point arithmetic copied from Pillow's Resample.c: results must be identical.
    static let tolerance = 0

    func testMatchesPillowForUpDownHalfDoubleOneAxisAndNonIntegerFactors() throws {
        let cases = try Fixtures.manifest().resize
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        for c in cases {
            let src = try ImageDecoder.decode(path: Fixtures.path(c.source))
            XCTAssertEqual(src.mode.channels, c.channels)
            let got = try resizeBicubic(src.pixels, width: src.width, height: src.height, channels: c.channels,
                                    outWidth: c.width, outHeight: c.height)
            let want = try Fixtures.bytes(c.expected)
            XCTAssertEqual(got.count, want.count, c.expected)
            XCTAssertLessThanOrEqual(maxAbsDiff(got, want), Self.tolerance, c.expected)
        }
    }

    /// Computing only a window (what the preprocessor does for the center crop) must give the
    /// same bytes as resizing everything and cropping afterwards.
    func testWindowEqualsFullResizeCropped() throws {
        let src = try ImageDecoder.decode(path: Fixtures.path("resize/src_rgb_97x61.png"))
        for (ow, oh) in [(150, 40), (97, 200), (31, 61), (300, 190)] {
            let full = try resizeBicubic(src.pixels, width: 97, height: 61, channels: 3, outWidth: ow, outHeight: oh)
            let win = PixelWindow(x: ow / 5, y: oh / 7, width: ow / 2, height: oh / 3)
            let part = try resizeBicubic(src.pixels, width: 97, height: 61, channels: 3, outWidth: ow, outHeight: oh, window: win)
            var cropped: [UInt8] = []
            for y in win.y..<(win.y + win.height) {
                cropped += full[((y * ow + win.x) * 3)..<((y * ow + win.x + win.width) * 3)]
            }
            XCTAssertEqual(part, cropped, "\(ow)x\(oh)")
            let nearFull = try resizeNearest(src.pixels, width: 97, height: 61, channels: 3, outWidth: ow, outHeight: oh)
            let nearPart = try resizeNearest(src.pixels, width: 97, height: 61, channels: 3, outWidth: ow, outHeight: oh, window: win)
            var nearCropped: [UInt8] = []
            for y in win.y..<(win.y + win.height) {
                nearCropped += nearFull[((y * ow + win.x) * 3)..<((y * ow + win.x + win.width) * 3)]
            }
            XCTAssertEqual(nearPart, nearCropped, "nearest \(ow)x\(oh)")
        }
    }

    func testSameSizeIsIdentity() throws {
        let px = (0..<(5 * 4 * 2)).map { UInt8($0 * 7 % 256) }
        XCTAssertEqual(try resizeBicubic(px, width: 5, height: 4, channels: 2, outWidth: 5, outHeight: 4), px)
    }

    /// Weights are normalized per output pixel: a constant image stays constant at any scale.
    func testConstantImageStaysConstant() throws {
        let px = [UInt8](repeating: 173, count: 37 * 23)
        for (w, h) in [(5, 3), (200, 90), (37, 1), (1, 23)] {
            let out = try resizeBicubic(px, width: 37, height: 23, channels: 1, outWidth: w, outHeight: h)
            XCTAssertEqual(Set(out), [173], "\(w)x\(h)")
        }
    }

    func testBadArgumentsThrowInsteadOfCrashing() {
        XCTAssertThrowsError(try resizeBicubic([1, 2, 3], width: 2, height: 2, channels: 1, outWidth: 4, outHeight: 4))
        XCTAssertThrowsError(try resizeBicubic([1, 2, 3, 4], width: 2, height: 2, channels: 1, outWidth: 0, outHeight: 4))
        XCTAssertThrowsError(try resizeNearest([1, 2, 3, 4], width: 2, height: 2, channels: 1, outWidth: 3, outHeight: 3,
                                               window: PixelWindow(x: 2, y: 0, width: 2, height: 1)))
    }

    /// A 5,000,000 x 1 palette strip resizes to 1.1e9 x 224: only the crop is computed and the
    /// NEAREST positions start from the closed form, so this takes milliseconds, not minutes.
    func testDegenerateStripIsCheap() throws {
        var image = DecodedImage(mode: .palette, width: 5_000_000, height: 1,
                                 pixels: (0..<5_000_000).map { UInt8(truncatingIfNeeded: $0 / 1000) })
        image.palette = (0..<768).map { UInt8(truncatingIfNeeded: $0) }
        let rgb = try Preprocessor.rgb8(image, config: .openAI(size: 224))
        XCTAssertEqual(rgb.count, 224 * 224 * 3)
        // The middle of the strip: source pixel ~2,500,000 has index 2500 % 256 = 196.
        XCTAssertEqual(rgb[(112 * 224 + 112) * 3], image.palette[Int(image.pixels[2_500_000]) * 3])
    }

    func testResizedSizeTruncatesLikeTorchvision() {
        // int(224 * 1000 / 7) = 32000; int(64 * 427 / 480)... long side uses the truncated double quotient.
        for (w, h, s) in [(1000, 7, 224), (7, 1000, 224), (480, 321, 224), (224, 227, 64), (3, 3, 5)] {
            let r = Preprocessor.resizedSize(width: w, height: h, size: s)
            let long = Int(Double(s) * Double(max(w, h)) / Double(min(w, h)))
            XCTAssertEqual(w <= h ? [r.width, r.height] : [r.height, r.width], [s, long])
        }
    }

    func testCropOriginRounding() {
        for extent in 10...40 {
            let d = extent - 10
            XCTAssertEqual(Preprocessor.cropOrigin(extent: extent, size: 10, rounding: .openCLIP),
                           Int((Double(d) / 2).rounded(.toNearestOrEven)), "openCLIP d=\(d)")
            XCTAssertEqual(Preprocessor.cropOrigin(extent: extent, size: 10, rounding: .huggingFace),
                           Int((Double(d) / 2).rounded(.down)), "HF d=\(d)")
        }
        // Smaller than the crop: torchvision pads (size - extent) // 2 on the left/top, HF ceil(...).
        XCTAssertEqual(Preprocessor.cropOrigin(extent: 5, size: 8, rounding: .openCLIP), -1)
        XCTAssertEqual(Preprocessor.cropOrigin(extent: 5, size: 8, rounding: .huggingFace), -2)
    }
}
