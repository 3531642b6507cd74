// Inflate.swift — the zlib stream inside a PNG's IDAT chunks, decompressed by the system zlib.
//
// Why zlib and not libpng: libpng reports errors by longjmp, which must never cross Swift
// frames, and its simplified API applies gamma and alpha conversions that Pillow does not; so
// PNGDecoder.swift parses chunks, filters and interlacing itself (they are simple and fully
// checked) and leaves only DEFLATE — the intricate, attack-prone part — to zlib, the decoder
// Pillow itself uses. The caller knows the exact size the image needs, so the output is
// allocated once at that size and a hostile stream cannot make it grow.

import CZlib

struct InflateError: Error {
    let message: String
    /// True when the input ran out: the file was cut short rather than corrupted.
    var truncated = false
}

/// Decompresses a zlib stream into exactly `expectedSize` bytes. Throws if the stream is
/// malformed, ends early, or holds more data than the image needs.
func zlibInflate(_ input: [UInt8], expectedSize: Int) throws -> [UInt8] {
    guard input.count >= 2 else { throw InflateError(message: "compressed data ends early", truncated: true) }
    // One spare byte: if zlib fills it, the stream holds more than the image needs.
    var out = [UInt8](repeating: 0, count: expectedSize + 1)
    var stream = z_stream()
    guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw InflateError(message: "zlib could not be initialised")
    }
    defer { inflateEnd(&stream) }
    let (status, produced) = input.withUnsafeBufferPointer { inBuf in
        out.withUnsafeMutableBufferPointer { outBuf -> (Int32, Int) in
            var status: Int32 = Z_OK
            var consumed = 0, produced = 0
            // zlib counts in 32-bit units: feed and drain in chunks below 4 GiB.
            let chunk = Int(UInt32.max >> 1)
            repeat {
                let inCount = min(chunk, inBuf.count - consumed), outCount = min(chunk, outBuf.count - produced)
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress! + consumed)
                stream.avail_in = uInt(inCount)
                stream.next_out = outBuf.baseAddress! + produced
                stream.avail_out = uInt(outCount)
                status = inflate(&stream, Z_NO_FLUSH)
                consumed += inCount - Int(stream.avail_in)
                produced += outCount - Int(stream.avail_out)
            } while status == Z_OK && produced < outBuf.count && consumed < inBuf.count
            return (status, produced)
        }
    }
    if produced > expectedSize {
        throw InflateError(message: "image data holds more than the \(expectedSize) bytes the image needs")
    }
    switch status {
    case Z_STREAM_END where produced == expectedSize:
        out.removeLast()
        return out
    case Z_STREAM_END:
        throw InflateError(message: "image data has \(produced) bytes, expected \(expectedSize)", truncated: true)
    case Z_OK, Z_BUF_ERROR:
        throw InflateError(message: "compressed data ends early (\(produced) of \(expectedSize) bytes)", truncated: true)
    default:
        let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
        throw InflateError(message: reason)
    }
}
