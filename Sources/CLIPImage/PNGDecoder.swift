// PNGDecoder.swift — PNG to a DecodedImage in the mode Pillow 13 gives it.
//
// Reference: the PNG spec (chunks, filters, Adam7) and Pillow's PngImagePlugin `_MODES` table:
//   gray 1-bit -> "1"; gray 2/4-bit -> "L" scaled (x85, x17); gray 8 -> "L"; gray 16 -> "I;16";
//   RGB 8/16 -> "RGB" (16-bit: high byte); palette 1/2/4/8 -> "P";
//   gray+alpha 8 -> "LA"; gray+alpha 16 -> "RGBA" (gray replicated, high bytes); RGBA 8/16 -> "RGBA".
// Raw samples only: gAMA, cHRM, sRGB and iCCP are ignored, as Pillow ignores them.
//
// Chunks, filters and interlacing in Swift, DEFLATE by the system zlib (see Inflate.swift):
// libpng's classic API reports errors by longjmp and its simplified API converts gamma/alpha.
// Every malformed input throws `ImageError`.

import CLIPSupport

enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    private struct Header {
        var width = 0, height = 0, depth = 0, colorType = 0, interlaced = false
        var samplesPerPixel: Int {
            switch colorType {
            case 0, 3: return 1
            case 4: return 2
            case 2: return 3
            default: return 4
            }
        }
    }

    static func decode(_ data: [UInt8], maxPixels: Int) throws -> DecodedImage {
        var pos = 8
        var header: Header?
        var palette: [UInt8] = []
        var trns: [UInt8]?
        var idat: [UInt8] = []
        var sawEnd = false

        func u32(_ p: Int) -> Int {
            Int(data[p]) << 24 | Int(data[p + 1]) << 16 | Int(data[p + 2]) << 8 | Int(data[p + 3])
        }

        while pos + 8 <= data.count {
            let length = u32(pos)
            let type = String(decoding: data[(pos + 4)..<(pos + 8)], as: UTF8.self)
            guard length <= 0x7FFF_FFFF else { throw ImageError.corrupt(format: "PNG", detail: "chunk \(type) has length \(length)") }
            let body = pos + 8
            guard body + length + 4 <= data.count else {
                if type == "IDAT" { idat += data[body..<min(body + length, data.count)] }
                break  // truncated: the missing IEND is reported below
            }
            // The CRC covers the chunk type and data (zlib's CRC-32, the one PNG specifies).
            let crc = data.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[(pos + 4)..<(body + length)])) }
            guard crc == UInt32(u32(body + length)) else {
                throw ImageError.corrupt(format: "PNG", detail: "CRC mismatch in chunk \(type) at byte \(pos)")
            }
            let chunk = data[body..<(body + length)]
            switch type {
            case "IHDR":
                guard length == 13 else { throw ImageError.corrupt(format: "PNG", detail: "IHDR has \(length) bytes, expected 13") }
                var h = Header()
                h.width = u32(body)
                h.height = u32(body + 4)
                h.depth = Int(data[body + 8])
                h.colorType = Int(data[body + 9])
                h.interlaced = data[body + 12] == 1
                let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
                guard let depths = allowed[h.colorType], depths.contains(h.depth) else {
                    throw ImageError.corrupt(format: "PNG", detail: "invalid colour type \(h.colorType) with bit depth \(h.depth)")
                }
                guard data[body + 10] == 0, data[body + 11] == 0, data[body + 12] <= 1 else {
                    throw ImageError.corrupt(format: "PNG", detail: "unknown compression, filter or interlace method")
                }
                // Decompression-bomb guard: checked from the header, before anything is allocated.
                try checkDimensions(width: h.width, height: h.height, maxPixels: maxPixels)
                header = h
            case "PLTE":
                guard length % 3 == 0, length <= 768 else { throw ImageError.corrupt(format: "PNG", detail: "PLTE has \(length) bytes") }
                palette = Array(chunk)
            case "tRNS":
                trns = Array(chunk)
            case "IDAT":
                idat += chunk
            case "IEND":
                sawEnd = true
            default:
                break  // ancillary chunks (gAMA, iCCP, text, ...) do not change samples in Pillow
            }
            pos = body + length + 4
            if sawEnd { break }
        }
        guard let h = header else {
            throw data.count < 33 ? ImageError.truncated(format: "PNG", detail: "file ends before the IHDR header")
                : ImageError.corrupt(format: "PNG", detail: "no IHDR chunk")
        }
        if h.colorType == 3 && palette.isEmpty { throw ImageError.corrupt(format: "PNG", detail: "palette image without PLTE chunk") }

        let spp = h.samplesPerPixel
        let bitsPerPixel = spp * h.depth
        let bpp = max(1, bitsPerPixel / 8)
        let passes: [(x0: Int, y0: Int, dx: Int, dy: Int)] = h.interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        func passSize(_ p: (x0: Int, y0: Int, dx: Int, dy: Int)) -> (w: Int, h: Int) {
            ((h.width - p.x0 + p.dx - 1) / p.dx, (h.height - p.y0 + p.dy - 1) / p.dy)
        }
        var expected = 0
        for p in passes {
            let s = passSize(p)
            if s.w > 0 && s.h > 0 { expected += s.h * (1 + (s.w * bitsPerPixel + 7) / 8) }
        }
        // DEFLATE cannot expand more than ~1032:1, so a tiny file cannot really hold a huge image:
        // refuse before allocating the output (a bomb header with a few bytes of data).
        guard expected <= idat.count * 1032 + 1024 else {
            throw sawEnd ? ImageError.corrupt(format: "PNG", detail: "\(idat.count) bytes of image data cannot hold \(h.width)x\(h.height) pixels")
                : ImageError.truncated(format: "PNG", detail: "only \(idat.count) bytes of image data for \(h.width)x\(h.height) pixels")
        }
        var raw: [UInt8]
        do {
            raw = try zlibInflate(idat, expectedSize: expected)
        } catch let e as InflateError {
            if e.truncated || !sawEnd { throw ImageError.truncated(format: "PNG", detail: "image data ends early (\(e.message))") }
            throw ImageError.corrupt(format: "PNG", detail: "image data: \(e.message)")
        }

        var image = DecodedImage(mode: mode(for: h), width: h.width, height: h.height, pixels: [])
        let outChannels = image.mode.channels
        var pixels = [UInt8](repeating: 0, count: h.width * h.height * outChannels)
        var samples16 = [UInt16](repeating: 0, count: image.mode == .gray16 ? h.width * h.height : 0)
        let grayScale: Int = [1: 255, 2: 85, 4: 17, 8: 1][h.depth] ?? 1

        var offset = 0
        try raw.withUnsafeMutableBufferPointer { buf in
            for p in passes {
                let s = passSize(p)
                guard s.w > 0 && s.h > 0 else { continue }
                let rowBytes = (s.w * bitsPerPixel + 7) / 8
                for row in 0..<s.h {
                    let start = offset + row * (rowBytes + 1)
                    let prev = row == 0 ? -1 : start - rowBytes  // previous row's data (after its filter byte)
                    try unfilter(buf, filter: buf[start], at: start + 1, prev: prev, count: rowBytes, bpp: bpp)
                    let line = start + 1
                    let y = p.y0 + row * p.dy
                    if h.depth == 8 && !h.interlaced {
                        // Fast path: an unfiltered 8-bit row is exactly the pixel row.
                        pixels.withUnsafeMutableBufferPointer { px in
                            _ = UnsafeMutableBufferPointer(rebasing: px[(y * rowBytes)..<((y + 1) * rowBytes)])
                                .update(fromContentsOf: UnsafeBufferPointer(rebasing: buf[line..<(line + rowBytes)]))
                        }
                        continue
                    }
                    for i in 0..<s.w {
                        let o = y * h.width + p.x0 + i * p.dx
                        switch (h.colorType, h.depth) {
                        case (_, 8):
                            for c in 0..<spp { pixels[o * outChannels + c] = buf[line + i * spp + c] }
                        case (0, 16):
                            samples16[o] = UInt16(buf[line + 2 * i]) << 8 | UInt16(buf[line + 2 * i + 1])
                        case (4, 16):  // Pillow: "LA;16B" -> RGBA, gray replicated
                            let g = buf[line + 4 * i]
                            pixels[o * 4] = g
                            pixels[o * 4 + 1] = g
                            pixels[o * 4 + 2] = g
                            pixels[o * 4 + 3] = buf[line + 4 * i + 2]
                        case (_, 16):  // RGB / RGBA 16-bit: Pillow keeps the high byte
                            for c in 0..<spp { pixels[o * outChannels + c] = buf[line + 2 * (i * spp + c)] }
                        default:  // 1, 2, 4 bits: gray (scaled to 0...255) or palette index
                            let bit = i * h.depth
                            let v = Int(buf[line + (bit >> 3)] >> UInt8(8 - h.depth - (bit & 7))) & ((1 << h.depth) - 1)
                            pixels[o] = UInt8(h.colorType == 0 ? v * grayScale : v)
                        }
                    }
                }
                offset += s.h * (rowBytes + 1)
            }
        }
        image.pixels = pixels
        image.samples16 = samples16
        if h.colorType == 3 {
            image.palette = palette
            if let t = trns { image.paletteAlpha = Array(t.prefix(palette.count / 3)) }
        } else if let t = trns {
            // Colour key: 2 bytes per sample, big-endian, at the file's bit depth.
            let keys = stride(from: 0, to: t.count - 1, by: 2).map { Int(t[$0]) << 8 | Int(t[$0 + 1]) }
            if (h.colorType == 0 && keys.count >= 1) || (h.colorType == 2 && keys.count >= 3) {
                let scale = h.colorType == 0 && h.depth < 8 ? grayScale : 1
                image.transparentKey = Array(keys.prefix(h.colorType == 0 ? 1 : 3)).map { $0 * scale }
            }
        }
        return image
    }

    private static func mode(for h: Header) -> PixelMode {
        switch (h.colorType, h.depth) {
        case (0, 1): return .bilevel
        case (0, 16): return .gray16
        case (0, _): return .gray
        case (2, _): return .rgb
        case (3, _): return .palette
        case (4, 8): return .grayAlpha
        default: return .rgba
        }
    }

    /// Reverses a PNG row filter in place. `prev` is the start of the previous (already
    /// unfiltered) row's data, or -1 for the first row of a pass (reads as zeros).
    private static func unfilter(_ b: UnsafeMutableBufferPointer<UInt8>, filter: UInt8, at s: Int, prev: Int,
                                 count: Int, bpp: Int) throws {
        switch filter {
        case 0:
            break
        case 1:
            for i in bpp..<max(bpp, count) { b[s + i] &+= b[s + i - bpp] }
        case 2:
            guard prev >= 0 else { return }
            for i in 0..<count { b[s + i] &+= b[prev + i] }
        case 3:
            for i in 0..<count {
                let a = i >= bpp ? Int(b[s + i - bpp]) : 0
                let up = prev >= 0 ? Int(b[prev + i]) : 0
                b[s + i] &+= UInt8((a + up) >> 1)
            }
        case 4:
            for i in 0..<count {
                let a = i >= bpp ? Int(b[s + i - bpp]) : 0
                let up = prev >= 0 ? Int(b[prev + i]) : 0
                let c = (i >= bpp && prev >= 0) ? Int(b[prev + i - bpp]) : 0
                let pa = abs(up - c), pb = abs(a - c), pc = abs(a + up - 2 * c)
                let pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c)
                b[s + i] &+= UInt8(pred)
            }
        default:
            throw ImageError.corrupt(format: "PNG", detail: "unknown row filter type \(filter)")
        }
    }
}
