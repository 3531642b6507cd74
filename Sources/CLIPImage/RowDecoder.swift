// RowDecoder.swift — images delivered one row at a time, so memory stays O(width), not O(image).
//
// A row decoder reads the header when it is made (so every header error, the pixel limit and the
// decompression-bomb guards come before any row), then hands out rows top to bottom in the
// layout of `DecodedImage` (the Pillow mode's 8-bit samples, or 16-bit ones for "I;16"), then
// checks the end of the stream in `finish()`. Every row must be read and `finish()` called even
// when the caller needs only some rows: a file cut short or corrupt near its end is refused just
// as a whole-image decode refuses it.
//
// Streaming preprocessing (Preprocessor.rgb8(path:)) pulls rows through the resize;
// `ImageDecoder.decode` collects them into a DecodedImage for callers that want the whole image.

import CLIPSupport

protocol RowDecoder: AnyObject {
    /// Mode, size, palette and transparency of the image; `pixels` and `samples16` are empty.
    var info: DecodedImage { get }
    /// Writes the next row: `width * info.mode.channels` bytes to `row`, or for `.gray16`
    /// `width` samples to `row16`.
    func nextRow(_ row: UnsafeMutablePointer<UInt8>, _ row16: UnsafeMutablePointer<UInt16>) throws
    /// After the last row: checks that the data ended as it should.
    func finish() throws
}

/// Where the encoded bytes come from: an open file (read in pieces with pread) or memory.
enum ByteSource {
    case file(fd: Int32, size: Int, path: String)
    case memory([UInt8])

    var count: Int {
        switch self {
        case .file(_, let size, _): return size
        case .memory(let bytes): return bytes.count
        }
    }

    /// All the bytes, for a decoder that needs them at once (WebP); the buffer is checked.
    func wholeBytes(name: String) throws -> [UInt8] {
        switch self {
        case .memory(let bytes): return bytes
        case .file:
            var bytes: [UInt8] = try checkedArray(count: count, for: "the file's bytes", AllocationContext(image: name))
            let got = try bytes.withUnsafeMutableBytes { try read(at: 0, into: $0.baseAddress!, count: $0.count) }
            bytes.removeLast(bytes.count - got)
            return bytes
        }
    }

    /// Copies up to `count` bytes from `offset` into `dst`; returns how many there were.
    func read(at offset: Int, into dst: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let n = max(0, min(count, self.count - offset))
        switch self {
        case .memory(let bytes):
            bytes.withUnsafeBytes { src in dst.copyMemory(from: src.baseAddress! + offset, byteCount: n) }
            return n
        case .file(let fd, _, let path):
            var done = 0
            while done < n {
                let got = pread(fd, dst + done, n - done, off_t(offset + done))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    if got == 0 { break }  // the file shrank while being read: treated as its end
                    throw ImageError.fileNotReadable(path: path, reason: String(cString: strerror(errno)))
                }
                done += got
            }
            return done
        }
    }
}

extension ImageDecoder {
    /// A row decoder over `source` (format from its first bytes), or the same errors decode gives.
    /// The first bytes decide, before anything else is read: a large file that is not an image is
    /// refused unread, and an empty or cut-short one is named as such.
    static func rowDecoder(_ source: ByteSource, name: String, maxPixels: Int) throws -> RowDecoder {
        var head = [UInt8](repeating: 0, count: min(source.count, signatureBytes))
        _ = try head.withUnsafeMutableBytes { try source.read(at: 0, into: $0.baseAddress!, count: $0.count) }
        switch try sniff(head, fileSize: source.count) {
        case .png: return try PNGRowDecoder(source, name: name, maxPixels: maxPixels)
        case .jpeg: return try JPEGRowDecoder(source, name: name, maxPixels: maxPixels)
        case .webp:
            // libwebp writes the whole picture: the file and the image are held whole.
            return ImageRows(try WebPDecoder.decode(source.wholeBytes(name: name), name: name, maxPixels: maxPixels))
        }
    }

    /// Every row of `decoder` in one DecodedImage (the buffers allocated with a memory check).
    static func collect(_ decoder: RowDecoder, name: String) throws -> DecodedImage {
        if let whole = decoder as? ImageRows { return whole.image }  // decoded whole already (WebP)
        var image = decoder.info
        let w = image.width, h = image.height, c = image.mode.channels
        let context = AllocationContext(image: name, width: w, height: h)
        let row16 = try CheckedBuffer<UInt16>(count: image.mode == .gray16 ? w : 0, for: "one row", context)
        let row = try CheckedBuffer<UInt8>(count: w * c, for: "one row", context)
        if image.mode == .gray16 {
            var samples: [UInt16] = try checkedArray(count: w * h, for: "the decoded image", context)
            try samples.withUnsafeMutableBufferPointer { s in
                for y in 0..<h { try decoder.nextRow(row.pointer, s.baseAddress! + y * w) }
            }
            image.samples16 = samples
        } else {
            var pixels: [UInt8] = try checkedArray(count: w * h * c, for: "the decoded image", context)
            try pixels.withUnsafeMutableBufferPointer { p in
                for y in 0..<h { try decoder.nextRow(p.baseAddress! + y * w * c, row16.pointer) }
            }
            image.pixels = pixels
        }
        try decoder.finish()
        return image
    }
}

/// The rows of an already decoded image, so a DecodedImage goes through the same pipeline.
final class ImageRows: RowDecoder {
    let image: DecodedImage
    private var y = 0
    var info: DecodedImage {
        var header = image
        header.pixels = []
        header.samples16 = []
        return header
    }

    init(_ image: DecodedImage) { self.image = image }

    func nextRow(_ row: UnsafeMutablePointer<UInt8>, _ row16: UnsafeMutablePointer<UInt16>) throws {
        let w = image.width
        if image.mode == .gray16 {
            image.samples16.withUnsafeBufferPointer { row16.update(from: $0.baseAddress! + y * w, count: w) }
        } else {
            let n = w * image.mode.channels
            image.pixels.withUnsafeBufferPointer { row.update(from: $0.baseAddress! + y * n, count: n) }
        }
        y += 1
    }

    func finish() throws {}
}
