// Inflate.swift — the zlib stream inside a PNG's IDAT chunks, inflated row by row by the system zlib.
//
// Why zlib and not libpng: libpng reports errors by longjmp, which must never cross Swift
// frames, and its simplified API applies gamma and alpha conversions that Pillow does not; so
// PNGDecoder.swift parses chunks, filters and interlacing itself (they are simple and fully
// checked) and leaves only DEFLATE — the intricate, attack-prone part — to zlib, the decoder
// Pillow itself uses. The caller knows the exact size the image needs and asks for it a row at a
// time, so the output never grows past what the image needs; the compressed bytes are read from
// the IDAT chunks in 64 KiB pieces as zlib consumes them.

import CLIPSupport
import CZlib

struct InflateError: Error {
    let message: String
    /// True when the input ran out: the file was cut short rather than corrupted.
    var truncated = false
}

/// A z_stream at a fixed address (zlib keeps a pointer back to it, so it must not move), ended
/// and freed with its owner. Its own object because Swift runs no deinit for an object whose
/// init throws.
private final class ZStream {
    let pointer = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    var initialised = false
    init() { pointer.initialize(to: z_stream()) }
    deinit {
        if initialised { inflateEnd(pointer) }
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}

/// Inflates the concatenated IDAT chunks of a PNG into exactly `expected` bytes, handed out in
/// pieces by `fill`; `finish` then checks that the stream ends there (no missing and no extra
/// data). Errors are the ones the PNG decoder reports: truncated when the data ends early or the
/// file has no IEND, corrupt otherwise.
final class RowInflater {
    private let source: ByteSource
    private let segments: [(offset: Int, length: Int)]
    private let total: Int, expected: Int, sawEnd: Bool
    private let piece: CheckedBuffer<UInt8>
    private let context: AllocationContext
    private let owner = ZStream()
    private var stream: UnsafeMutablePointer<z_stream> { owner.pointer }
    private var segment = 0, segmentDone = 0
    private var produced = 0
    private var ended = false

    init(_ source: ByteSource, segments: [(offset: Int, length: Int)], total: Int, expected: Int, sawEnd: Bool,
         piece: CheckedBuffer<UInt8>, context: AllocationContext) throws {
        self.source = source
        self.segments = segments
        self.total = total
        self.expected = expected
        self.sawEnd = sawEnd
        self.piece = piece
        self.context = context
        guard total >= 2 else { throw fail(InflateError(message: "compressed data ends early", truncated: true)) }
        let status = inflateInit_(stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if status == Z_MEM_ERROR { throw outOfMemory() }
        guard status == Z_OK else { throw fail(InflateError(message: "zlib could not be initialised")) }
        owner.initialised = true
    }

    private func fail(_ e: InflateError) -> ImageError {
        if e.truncated || !sawEnd { return ImageError.truncated(format: "PNG", detail: "image data ends early (\(e.message))") }
        return ImageError.corrupt(format: "PNG", detail: "image data: \(e.message)")
    }

    private func outOfMemory() -> ImageError {
        ImageError.outOfMemory(image: context.image, width: context.width, height: context.height, bytes: 7 * 1024 + 32 * 1024,
                               purpose: "the zlib inflate state")
    }

    /// Reads the next piece of compressed data into zlib's input; false when none is left.
    private func refill() throws -> Bool {
        while segment < segments.count {
            let s = segments[segment]
            let n = min(piece.count, s.length - segmentDone)
            if n > 0 {
                let got = try source.read(at: s.offset + segmentDone, into: piece.pointer, count: n)
                guard got > 0 else { return false }
                segmentDone += got
                stream.pointee.next_in = piece.pointer
                stream.pointee.avail_in = uInt(got)
                return true
            }
            segment += 1
            segmentDone = 0
        }
        return false
    }

    /// Inflates exactly `count` more bytes into `dst`.
    func fill(_ dst: UnsafeMutablePointer<UInt8>, count: Int) throws {
        var remaining = count
        var out = dst
        while remaining > 0 {
            if ended {
                throw fail(InflateError(message: "image data has \(produced) bytes, expected \(expected)", truncated: true))
            }
            if stream.pointee.avail_in == 0, try !refill() {
                throw fail(InflateError(message: "compressed data ends early (\(produced) of \(expected) bytes)", truncated: true))
            }
            // zlib counts in 32-bit units: drain in chunks below 4 GiB.
            let n = min(remaining, Int(UInt32.max >> 1))
            stream.pointee.next_out = out
            stream.pointee.avail_out = uInt(n)
            let status = inflate(stream, Z_NO_FLUSH)
            let made = n - Int(stream.pointee.avail_out)
            produced += made
            remaining -= made
            out += made
            switch status {
            case Z_OK, Z_BUF_ERROR: continue  // needs more input or more room: the loop gives it
            case Z_STREAM_END: ended = true
            case Z_MEM_ERROR: throw outOfMemory()
            default: throw fail(InflateError(message: zlibMessage(status)))
            }
        }
    }

    /// After the last byte: the stream must end here, with nothing left over.
    func finish() throws {
        var spare: UInt8 = 0
        while !ended {
            if stream.pointee.avail_in == 0, try !refill() {
                throw fail(InflateError(message: "compressed data ends early (\(produced) of \(expected) bytes)", truncated: true))
            }
            let status = withUnsafeMutablePointer(to: &spare) { p -> Int32 in
                stream.pointee.next_out = p
                stream.pointee.avail_out = 1
                return inflate(stream, Z_NO_FLUSH)
            }
            if stream.pointee.avail_out == 0 {
                throw fail(InflateError(message: "image data holds more than the \(expected) bytes the image needs"))
            }
            switch status {
            case Z_OK, Z_BUF_ERROR: continue
            case Z_STREAM_END: ended = true
            case Z_MEM_ERROR: throw outOfMemory()
            default: throw fail(InflateError(message: zlibMessage(status)))
            }
        }
    }

    private func zlibMessage(_ status: Int32) -> String {
        stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
    }
}
