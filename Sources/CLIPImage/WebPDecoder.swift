// WebPDecoder.swift — WebP to a DecodedImage via libwebp, matching Pillow's WebPImagePlugin.
//
// Pillow 13 (`_webp.c`, `WebPImagePlugin.py`) opens every WebP file with libwebp's animation
// decoder, `WebPAnimDecoderNew(data, NULL)`: default options, so straight (not premultiplied)
// RGBA output with libwebp's default decoding (fancy chroma upsampling, no dithering). The mode
// comes from `WebPGetFeatures`: "RGBA" when the file says it has alpha (a VP8X alpha flag, an
// ALPH chunk or the VP8L alpha bit), else "RGB" (rawmode "RGBX", the fourth byte dropped).
// `Image.open` then holds the FIRST frame of an animation, composited by the animation decoder
// onto a transparent black canvas. ICC, EXIF and XMP chunks go to `info` and change no pixel (no
// colour management, no EXIF rotation), so they are ignored here too.
//
// A still image is decoded straight into our buffer with `WebPDecode` in the final mode (RGB or
// RGBA): for a still file the animation decoder runs that very call (MODE_RGBA) on the file's one
// frame, and libwebp's RGB and RGBA writers share their YUV->RGB conversion, so the samples are
// the same without the animation decoder's two extra canvases (8 bytes a pixel). The demuxer is
// run first all the same, so a file Pillow refuses (it cannot be demuxed) is refused here too.
// Animated files go through `WebPAnimDecoder` exactly as in Pillow.
//
// Debian's libwebp (1.2.4) and the 1.6.0 in Pillow's wheel give identical samples on every file
// tried (lossy q0-100 with and without alpha, lossless, methods 0-6, sizes 1x1 to 4000x3000,
// animations); libwebp holds its SIMD paths bit-exact to the C code (docs/preprocessing.md).

import CLIPSupport
import CWebP

enum WebPDecoder {
    /// Decodes a whole WebP file; `name` is what an out-of-memory error calls the image.
    static func decode(_ data: [UInt8], name: String, maxPixels: Int) throws -> DecodedImage {
        try data.withUnsafeBufferPointer { buf in
            try decode(buf.baseAddress!, count: buf.count, name: name, maxPixels: maxPixels)
        }
    }

    private static func decode(_ bytes: UnsafePointer<UInt8>, count: Int, name: String, maxPixels: Int) throws -> DecodedImage {
        var features = WebPBitstreamFeatures()
        let status = WebPGetFeatures(bytes, count, &features)
        guard status == VP8_STATUS_OK else { throw error(status, stage: "header", AllocationContext(image: name), bytes, count) }
        // Decompression-bomb guard: from the header (the canvas of an animation), before anything
        // the size of the image is allocated.
        let w = Int(features.width), h = Int(features.height)
        try checkDimensions(width: w, height: h, maxPixels: maxPixels)
        let context = AllocationContext(image: name, width: w, height: h)

        var webpData = WebPData(bytes: bytes, size: count)
        guard let demuxer = WebPDemux(&webpData) else {
            throw refusedContainer(bytes, count)
        }
        WebPDemuxDelete(demuxer)

        let mode: PixelMode = features.has_alpha != 0 ? .rgba : .rgb
        let pixelCount = w * h
        if features.has_animation != 0 {
            return try firstFrame(&webpData, mode: mode, context, bytes: bytes, count: count)
        }
        var pixels: [UInt8] = try checkedArray(count: pixelCount * mode.channels, for: "the decoded image", context)
        var config = WebPDecoderConfig()
        guard WebPInitDecoderConfig(&config) != 0 else {
            throw ImageError.unsupported(format: "WebP", detail: "libwebp's decoder does not match its header (ABI version)")
        }
        let decoded: VP8StatusCode = pixels.withUnsafeMutableBufferPointer { dst in
            config.output.colorspace = mode == .rgba ? MODE_RGBA : MODE_RGB
            config.output.is_external_memory = 1
            config.output.u.RGBA.rgba = dst.baseAddress
            config.output.u.RGBA.stride = Int32(w * mode.channels)
            config.output.u.RGBA.size = dst.count
            let s = WebPDecode(bytes, count, &config)
            WebPFreeDecBuffer(&config.output)  // external memory: frees nothing of ours
            return s
        }
        guard decoded == VP8_STATUS_OK else { throw error(decoded, stage: "image data", context, bytes, count) }
        return DecodedImage(mode: mode, width: w, height: h, pixels: pixels)
    }

    /// The first frame of an animation, as Pillow's `Image.open` holds it: the animation decoder's
    /// RGBA canvas after frame 1, its alpha dropped when the file has none.
    private static func firstFrame(_ webpData: inout WebPData, mode: PixelMode, _ context: AllocationContext,
                                   bytes: UnsafePointer<UInt8>, count: Int) throws -> DecodedImage {
        let w = context.width, h = context.height
        // The decoder allocates two RGBA canvases (its own and the previous frame's).
        _ = try CheckedBuffer<UInt8>(count: 2 * 4 * w * h, for: "libwebp's two animation canvases", context)
        guard let decoder = WebPAnimDecoderNew(&webpData, nil) else {
            throw ImageError.outOfMemory(image: context.image, width: w, height: h, bytes: 2 * 4 * w * h,
                                         purpose: "libwebp's two animation canvases")
        }
        defer { WebPAnimDecoderDelete(decoder) }
        var info = WebPAnimInfo()
        guard WebPAnimDecoderGetInfo(decoder, &info) != 0, Int(info.canvas_width) == w, Int(info.canvas_height) == h else {
            throw ImageError.corrupt(format: "WebP", detail: "the animation canvas differs from the header's \(w)x\(h)")
        }
        var canvas: UnsafeMutablePointer<UInt8>?
        var timestamp: Int32 = 0
        guard WebPAnimDecoderGetNext(decoder, &canvas, &timestamp) != 0, let rgba = canvas else {
            if riffSizeExceeds(bytes, count) {
                throw ImageError.truncated(format: "WebP", detail: "the first animation frame could not be decoded; the RIFF header promises \(riffLength(bytes, count)) bytes, the file has \(count)")
            }
            throw ImageError.corrupt(format: "WebP", detail: "the first animation frame could not be decoded")
        }
        let pixelCount = w * h
        var pixels: [UInt8] = try checkedArray(count: pixelCount * mode.channels, for: "the decoded image", context)
        if mode == .rgba {
            pixels.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: rgba, count: pixelCount * 4) }
        } else {
            pixels.withUnsafeMutableBufferPointer { dst in
                for i in 0..<pixelCount {
                    dst[3 * i] = rgba[4 * i]
                    dst[3 * i + 1] = rgba[4 * i + 1]
                    dst[3 * i + 2] = rgba[4 * i + 2]
                }
            }
        }
        return DecodedImage(mode: mode, width: w, height: h, pixels: pixels)
    }

    // MARK: errors and allocation

    /// The file length the RIFF header promises: its size field (bytes 4-7, little-endian) counts
    /// the bytes after it.
    private static func riffLength(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int {
        count < 8 ? 8 : 8 + (0..<4).reduce(0) { $0 | Int(bytes[4 + $1]) << (8 * $1) }
    }

    /// True when the RIFF header promises more bytes than the file has: it was cut short.
    private static func riffSizeExceeds(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        riffLength(bytes, count) > count
    }

    /// The demuxer refused the container (Pillow's "could not create decoder object").
    private static func refusedContainer(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> ImageError {
        if riffSizeExceeds(bytes, count) {
            return .truncated(format: "WebP", detail: "the RIFF header promises \(riffLength(bytes, count)) bytes, the file has \(count)")
        }
        return .corrupt(format: "WebP", detail: "libwebp's demuxer cannot parse its RIFF chunks")
    }

    private static func error(_ status: VP8StatusCode, stage: String, _ context: AllocationContext,
                              _ bytes: UnsafePointer<UInt8>, _ count: Int) -> ImageError {
        switch status {
        case VP8_STATUS_NOT_ENOUGH_DATA:
            return .truncated(format: "WebP", detail: "the \(stage) ends after \(count) bytes")
        case VP8_STATUS_OUT_OF_MEMORY:
            return .outOfMemory(image: context.image, width: context.width, height: context.height, bytes: 0,
                                purpose: "libwebp could not allocate its buffers for the \(stage)")
        case VP8_STATUS_UNSUPPORTED_FEATURE:
            return .unsupported(format: "WebP", detail: "libwebp does not support a feature of the \(stage)")
        default:
            // A bitstream error in a file whose RIFF size is larger than the file: cut short.
            if riffSizeExceeds(bytes, count) {
                return .truncated(format: "WebP", detail: "the \(stage) cannot be decoded and the RIFF header promises \(riffLength(bytes, count)) bytes, the file has \(count)")
            }
            return .corrupt(format: "WebP", detail: "libwebp cannot decode the \(stage) (VP8 status \(status.rawValue))")
        }
    }
}
