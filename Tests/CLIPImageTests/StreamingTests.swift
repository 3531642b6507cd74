// StreamingTests.swift — the row-at-a-time route held to the whole-image one.
//
// Path preprocessing decodes a row at a time and resizes through a ring of rows (RowResize.swift);
// the whole-image functions of Resize.swift stay the reference that ResizeTests hold to Pillow.
// Both routes must give identical bytes (tolerance 0): the same fixed-point arithmetic in the same
// order, only fed differently.
import XCTest
@testable import CLIPImage

final class StreamingTests: XCTestCase {
    /// Pushes `src` row by row through RowResizer.
    func streamed(_ src: [UInt8], _ w: Int, _ h: Int, _ c: Int, _ ow: Int, _ oh: Int, _ win: PixelWindow,
                  nearest: Bool) throws -> [UInt8] {
        let r = try RowResizer(nearest: nearest, width: w, height: h, channels: c, outWidth: ow, outHeight: oh, window: win,
                               AllocationContext(image: "test"))
        src.withUnsafeBufferPointer { s in
            for y in 0..<h { r.push(s.baseAddress! + y * w * c, y: y) }
        }
        return r.output
    }

    /// Random sizes covering every pass plan: horizontal only, vertical only, horizontal first,
    /// vertical first (tall shrinks), upscales, windows at the edges and empty ones.
    func testRowResizeEqualsWholeImageResize() throws {
        var rng = SystemRandomNumberGenerator()
        var plans = Set<String>()
        for trial in 0..<300 {
            let w = Int.random(in: 1...90, using: &rng), h = Int.random(in: 1...(trial % 3 == 0 ? 400 : 90), using: &rng)
            let c = [1, 2, 3, 4].randomElement(using: &rng)!
            let ow = [w, Int.random(in: 1...120, using: &rng)].randomElement(using: &rng)!
            let oh = [h, Int.random(in: 1...120, using: &rng)].randomElement(using: &rng)!
            let x = Int.random(in: 0..<ow, using: &rng), y = Int.random(in: 0..<oh, using: &rng)
            let win = PixelWindow(x: x, y: y, width: Int.random(in: 0...(ow - x), using: &rng),
                                  height: Int.random(in: 0...(oh - y), using: &rng))
            let src = (0..<(w * h * c)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let label = "\(w)x\(h)x\(c) -> \(ow)x\(oh) window \(win)"
            XCTAssertEqual(try streamed(src, w, h, c, ow, oh, win, nearest: false),
                           try resizeBicubic(src, width: w, height: h, channels: c, outWidth: ow, outHeight: oh, window: win),
                           "bicubic " + label)
            XCTAssertEqual(try streamed(src, w, h, c, ow, oh, win, nearest: true),
                           try resizeNearest(src, width: w, height: h, channels: c, outWidth: ow, outHeight: oh, window: win),
                           "nearest " + label)
            let verticalFirst = (h - oh) > 0 && (h - oh) > (w - ow) * 2
            plans.insert("\(ow != w) \(oh != h) \(verticalFirst)")
        }
        XCTAssertTrue(plans.contains("true true true") && plans.contains("true true false"), "both pass orders ran: \(plans)")
    }

    /// Every fixture through the file route and through a whole decoded image, both orders.
    func testPathRouteEqualsDecodedImageRoute() throws {
        let dir = Fixtures.path("in")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertGreaterThan(names.count, 20)
        for name in names {
            for config in [PreprocessConfig.openAI(size: 64), PreprocessConfig.huggingFace(size: 224)] {
                let viaPath = try Preprocessor.rgb8(path: dir + "/" + name, config: config)
                let viaImage = try Preprocessor.rgb8(ImageDecoder.decode(path: dir + "/" + name), config: config)
                XCTAssertEqual(viaPath, viaImage, name)
            }
        }
    }

    /// A JPEG cut inside its header, or without a frame header, says so instead of "zero size".
    func testJPEGHeaderFailuresSayWhatWasFound() throws {
        let full = try Fixtures.bytes("in/jpeg_420_320x240.jpg")
        for cut in [3, 100] {
            let e = try XCTUnwrap(captureError { try ImageDecoder.decode(bytes: Array(full.prefix(cut))) })
            XCTAssertTrue("\(e)".contains("JPEG file is truncated: the file ends after \(cut) bytes, before the frame header (SOF marker)"), "\(e)")
        }
        // SOI then EOI: a well-formed stream with no frame.
        let e = try XCTUnwrap(captureError { try ImageDecoder.decode(bytes: [0xFF, 0xD8, 0xFF, 0xD9]) })
        XCTAssertTrue("\(e)".contains("no frame header (SOF marker)"), "\(e)")
        // SOS before any SOF: a stream cut to its scan.
        let sos = try XCTUnwrap((0..<(full.count - 1)).first { full[$0] == 0xFF && full[$0 + 1] == 0xDA })
        let sof = try XCTUnwrap((0..<(full.count - 1)).first { full[$0] == 0xFF && full[$0 + 1] == 0xC0 })
        let sofLength = Int(full[sof + 2]) << 8 | Int(full[sof + 3])
        let noSOF = Array(full[..<sof]) + Array(full[(sof + 2 + sofLength)...])
        XCTAssertLessThan(sof, sos)
        let e2 = try XCTUnwrap(captureError { try ImageDecoder.decode(bytes: noSOF) })
        XCTAssertTrue("\(e2)".contains("no frame header (SOF marker)"), "\(e2)")
    }

    /// A buffer that cannot be allocated is an error naming the image, not an abort.
    func testAllocationFailureIsAnError() throws {
        let context = AllocationContext(image: "x.png", width: 9000, height: 9000)
        let e = try XCTUnwrap(captureError { _ = try CheckedBuffer<UInt8>(count: 1 << 60, for: "one row", context) })
        XCTAssertEqual("\(e)", "not enough memory to decode 9000x9000 image 'x.png' (needs 1099511627776 MB for one row); "
            + "free some memory, raise the process limit (ulimit -v) or downscale the image first.")
    }

    func captureError(_ body: () throws -> Void) -> Error? {
        do { try body() } catch { return error }
        return nil
    }
}
