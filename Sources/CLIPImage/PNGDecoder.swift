// PNGDecoder.swift — PNG rows in the mode Pillow 13 gives the image, decoded one row at a time.
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
//
// Memory: the file is never held whole. A first walk over the chunks (read in 64 KiB pieces)
// checks every CRC, takes IHDR, PLTE and tRNS, and totals the IDAT lengths, so every header error
// and the DEFLATE expansion guard come before any pixel. Rows are then inflated from the IDAT
// chunks one at a time into two row buffers (this row and the previous, which the filters read):
// O(width) bytes whatever the height. Interlaced (Adam7) files scatter each row over seven
// passes, so they are still decoded whole (the raw passes and the image, both allocated with a
// memory check) and their rows served from that.

import CLIPSupport

enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
}

final class PNGRowDecoder: RowDecoder {
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

    let info: DecodedImage
    private let h: Header
    private let context: AllocationContext
    private let inflater: RowInflater
    private let bitsPerPixel: Int, bpp: Int, rowBytes: Int
    private let grayScale: Int
    private var y = 0
    /// Non-interlaced: this row and the previous one, each with its filter byte.
    private var current: CheckedBuffer<UInt8>?, previous: CheckedBuffer<UInt8>?
    /// A bad filter byte is reported after the stream is checked, as the whole-image decode did.
    private var filterError: ImageError?
    /// Interlaced: the whole image.
    private var full8: CheckedBuffer<UInt8>?, full16: CheckedBuffer<UInt16>?

    init(_ source: ByteSource, name: String, maxPixels: Int) throws {
        let count = source.count
        var pos = 8
        var header: Header?
        var palette: [UInt8] = []
        var trns: [UInt8]?
        var segments: [(offset: Int, length: Int)] = []
        var idatTotal = 0
        var sawEnd = false
        let piece = try CheckedBuffer<UInt8>(count: 64 * 1024, for: "reading the file", AllocationContext(image: name))
        var head = [UInt8](repeating: 0, count: 8)

        func u32(_ b: [UInt8], _ p: Int) -> Int {
            Int(b[p]) << 24 | Int(b[p + 1]) << 16 | Int(b[p + 2]) << 8 | Int(b[p + 3])
        }
        /// Bytes `offset ..< offset + n` (n small) as an array.
        func bytes(_ offset: Int, _ n: Int) throws -> [UInt8] {
            var b = [UInt8](repeating: 0, count: n)
            let got = try b.withUnsafeMutableBytes { try source.read(at: offset, into: $0.baseAddress!, count: n) }
            return Array(b.prefix(got))
        }

        while pos + 8 <= count {
            head = try bytes(pos, 8)
            let length = u32(head, 0)
            let type = String(decoding: head[4..<8], as: UTF8.self)
            guard length <= 0x7FFF_FFFF else { throw ImageError.corrupt(format: "PNG", detail: "chunk \(type) has length \(length)") }
            let body = pos + 8
            guard body + length + 4 <= count else {
                if type == "IDAT" {
                    let n = min(body + length, count) - body
                    segments.append((body, n))
                    idatTotal += n
                }
                break  // truncated: the missing IEND is reported below
            }
            // The CRC covers the chunk type and data (zlib's CRC-32, the one PNG specifies), read in pieces.
            var crc = head.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[4..<8])) }
            var done = 0
            while done < length {
                let n = try source.read(at: body + done, into: piece.pointer, count: min(piece.count, length - done))
                crc = crc32(UnsafeRawBufferPointer(start: piece.pointer, count: n), initial: crc)
                done += n
                if n == 0 { break }
            }
            let stored = try bytes(body + length, 4)
            guard stored.count == 4, crc == UInt32(u32(stored, 0)) else {
                throw ImageError.corrupt(format: "PNG", detail: "CRC mismatch in chunk \(type) at byte \(pos)")
            }
            switch type {
            case "IHDR":
                guard length == 13 else { throw ImageError.corrupt(format: "PNG", detail: "IHDR has \(length) bytes, expected 13") }
                let d = try bytes(body, 13)
                var h = Header()
                h.width = u32(d, 0)
                h.height = u32(d, 4)
                h.depth = Int(d[8])
                h.colorType = Int(d[9])
                h.interlaced = d[12] == 1
                let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
                guard let depths = allowed[h.colorType], depths.contains(h.depth) else {
                    throw ImageError.corrupt(format: "PNG", detail: "invalid colour type \(h.colorType) with bit depth \(h.depth)")
                }
                guard d[10] == 0, d[11] == 0, d[12] <= 1 else {
                    throw ImageError.corrupt(format: "PNG", detail: "unknown compression, filter or interlace method")
                }
                // Decompression-bomb guard: checked from the header, before anything is allocated.
                try checkDimensions(width: h.width, height: h.height, maxPixels: maxPixels)
                header = h
            case "PLTE":
                guard length % 3 == 0, length <= 768 else { throw ImageError.corrupt(format: "PNG", detail: "PLTE has \(length) bytes") }
                palette = try bytes(body, length)
            case "tRNS":
                // At most 256 palette alphas or one 6-byte colour key are used: keep no more.
                trns = try bytes(body, min(length, 1024))
            case "IDAT":
                segments.append((body, length))
                idatTotal += length
            case "IEND":
                sawEnd = true
            default:
                break  // ancillary chunks (gAMA, iCCP, text, ...) do not change samples in Pillow
            }
            pos = body + length + 4
            if sawEnd { break }
        }
        guard let h = header else {
            throw count < 33 ? ImageError.truncated(format: "PNG", detail: "file ends before the IHDR header")
                : ImageError.corrupt(format: "PNG", detail: "no IHDR chunk")
        }
        if h.colorType == 3 && palette.isEmpty { throw ImageError.corrupt(format: "PNG", detail: "palette image without PLTE chunk") }
        self.h = h

        bitsPerPixel = h.samplesPerPixel * h.depth
        bpp = max(1, bitsPerPixel / 8)
        rowBytes = (h.width * bitsPerPixel + 7) / 8
        grayScale = [1: 255, 2: 85, 4: 17, 8: 1][h.depth] ?? 1
        var expected = 0
        for p in PNGRowDecoder.passes(h.interlaced) {
            let s = PNGRowDecoder.passSize(p, h)
            if s.w > 0 && s.h > 0 { expected += s.h * (1 + (s.w * bitsPerPixel + 7) / 8) }
        }
        // DEFLATE cannot expand more than ~1032:1, so a tiny file cannot really hold a huge image:
        // refuse before allocating anything for it (a bomb header with a few bytes of data).
        guard expected <= idatTotal * 1032 + 1024 else {
            throw sawEnd ? ImageError.corrupt(format: "PNG", detail: "\(idatTotal) bytes of image data cannot hold \(h.width)x\(h.height) pixels")
                : ImageError.truncated(format: "PNG", detail: "only \(idatTotal) bytes of image data for \(h.width)x\(h.height) pixels")
        }

        var image = DecodedImage(mode: PNGRowDecoder.mode(for: h), width: h.width, height: h.height, pixels: [])
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
        info = image
        context = AllocationContext(image: name, width: h.width, height: h.height)
        inflater = try RowInflater(source, segments: segments, total: idatTotal, expected: expected, sawEnd: sawEnd,
                                   piece: piece, context: context)
        if h.interlaced {
            try decodeInterlaced(expected: expected)
        } else {
            current = try CheckedBuffer(count: rowBytes + 1, for: "one row", context)
            previous = try CheckedBuffer(count: rowBytes + 1, for: "one row", context)
        }
    }

    private static func passes(_ interlaced: Bool) -> [(x0: Int, y0: Int, dx: Int, dy: Int)] {
        interlaced ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
    }

    private static func passSize(_ p: (x0: Int, y0: Int, dx: Int, dy: Int), _ h: Header) -> (w: Int, h: Int) {
        ((h.width - p.x0 + p.dx - 1) / p.dx, (h.height - p.y0 + p.dy - 1) / p.dy)
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

    func nextRow(_ row: UnsafeMutablePointer<UInt8>, _ row16: UnsafeMutablePointer<UInt16>) throws {
        precondition(y < h.height, "PNG row \(y) requested of a \(h.height)-row image")
        defer { y += 1 }
        let w = h.width
        if let full = full8 {
            let c = info.mode.channels
            row.update(from: full.pointer + y * w * c, count: w * c)
            return
        }
        if let full = full16 {
            row16.update(from: full.pointer + y * w, count: w)
            return
        }
        swap(&current, &previous)
        let line = current!.pointer
        try inflater.fill(line, count: rowBytes + 1)
        let error = PNGRowDecoder.unfilter(line + 1, filter: line[0], prev: y == 0 ? nil : previous!.pointer + 1,
                                           count: rowBytes, bpp: bpp)
        if filterError == nil { filterError = error }
        expand(UnsafePointer(line + 1), width: w, x0: 0, dx: 0, into: row, row16)
    }

    func finish() throws {
        if full8 == nil && full16 == nil { try inflater.finish() }
        if let e = filterError { throw e }
    }

    /// Unfiltered row samples -> the mode's layout. Pixel i goes to `x0 + i * dx` (dx 0: i itself).
    private func expand(_ line: UnsafePointer<UInt8>, width count: Int, x0: Int, dx: Int,
                        into out: UnsafeMutablePointer<UInt8>, _ out16: UnsafeMutablePointer<UInt16>) {
        let spp = h.samplesPerPixel, oc = info.mode.channels
        if h.depth == 8 && dx == 0 {
            // An unfiltered 8-bit row is exactly the pixel row.
            out.update(from: line, count: count * spp)
            return
        }
        for i in 0..<count {
            let o = dx == 0 ? i : x0 + i * dx
            switch (h.colorType, h.depth) {
            case (_, 8):
                for c in 0..<spp { out[o * oc + c] = line[i * spp + c] }
            case (0, 16):
                out16[o] = UInt16(line[2 * i]) << 8 | UInt16(line[2 * i + 1])
            case (4, 16):  // Pillow: "LA;16B" -> RGBA, gray replicated
                let g = line[4 * i]
                out[o * 4] = g
                out[o * 4 + 1] = g
                out[o * 4 + 2] = g
                out[o * 4 + 3] = line[4 * i + 2]
            case (_, 16):  // RGB / RGBA 16-bit: Pillow keeps the high byte
                for c in 0..<spp { out[o * oc + c] = line[2 * (i * spp + c)] }
            default:  // 1, 2, 4 bits: gray (scaled to 0...255) or palette index
                let bit = i * h.depth
                let v = Int(line[bit >> 3] >> UInt8(8 - h.depth - (bit & 7))) & ((1 << h.depth) - 1)
                out[o] = UInt8(h.colorType == 0 ? v * grayScale : v)
            }
        }
    }

    /// Adam7: inflate all seven passes, then scatter them into the whole image.
    private func decodeInterlaced(expected: Int) throws {
        let raw = try CheckedBuffer<UInt8>(count: expected, for: "the interlaced image data", context)
        try inflater.fill(raw.pointer, count: expected)
        try inflater.finish()
        let w = h.width, c = info.mode.channels
        if info.mode == .gray16 {
            full16 = try CheckedBuffer(count: w * h.height, for: "the interlaced image", context)
        } else {
            full8 = try CheckedBuffer(count: w * h.height * c, for: "the interlaced image", context)
        }
        let dummy8 = try CheckedBuffer<UInt8>(count: 1, for: "one row", context)
        let dummy16 = try CheckedBuffer<UInt16>(count: 1, for: "one row", context)
        var offset = 0
        for p in PNGRowDecoder.passes(true) {
            let s = PNGRowDecoder.passSize(p, h)
            guard s.w > 0 && s.h > 0 else { continue }
            let passRowBytes = (s.w * bitsPerPixel + 7) / 8
            for row in 0..<s.h {
                let start = raw.pointer + offset + row * (passRowBytes + 1)
                let prev = row == 0 ? nil : UnsafePointer(start - passRowBytes)  // previous row's data
                if let e = PNGRowDecoder.unfilter(start + 1, filter: start[0], prev: prev, count: passRowBytes, bpp: bpp) {
                    throw e
                }
                let yy = p.y0 + row * p.dy
                expand(UnsafePointer(start + 1), width: s.w, x0: p.x0, dx: p.dx,
                       into: full8.map { $0.pointer + yy * w * c } ?? dummy8.pointer,
                       full16.map { $0.pointer + yy * w } ?? dummy16.pointer)
            }
            offset += s.h * (passRowBytes + 1)
        }
    }

    /// Reverses a PNG row filter in place. `prev` is the previous (already unfiltered) row of the
    /// same pass, or nil for its first row (reads as zeros). Returns the error for an unknown type.
    private static func unfilter(_ b: UnsafeMutablePointer<UInt8>, filter: UInt8, prev: UnsafePointer<UInt8>?,
                                 count: Int, bpp: Int) -> ImageError? {
        switch filter {
        case 0:
            break
        case 1:
            for i in bpp..<max(bpp, count) { b[i] &+= b[i - bpp] }
        case 2:
            guard let up = prev else { break }
            for i in 0..<count { b[i] &+= up[i] }
        case 3:
            for i in 0..<count {
                let a = i >= bpp ? Int(b[i - bpp]) : 0
                let up = prev.map { Int($0[i]) } ?? 0
                b[i] &+= UInt8((a + up) >> 1)
            }
        case 4:
            for i in 0..<count {
                let a = i >= bpp ? Int(b[i - bpp]) : 0
                let up = prev.map { Int($0[i]) } ?? 0
                let c = (i >= bpp && prev != nil) ? Int(prev![i - bpp]) : 0
                let pa = abs(up - c), pb = abs(a - c), pc = abs(a + up - 2 * c)
                let pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c)
                b[i] &+= UInt8(pred)
            }
        default:
            return ImageError.corrupt(format: "PNG", detail: "unknown row filter type \(filter)")
        }
        return nil
    }
}
