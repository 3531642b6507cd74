// Decompression of a gzip (or zlib) file held in memory, with the system zlib (inflate with
// automatic gzip/zlib header detection): open_clip's `bpe_simple_vocab_16e6.txt.gz` and the
// Fashion-MNIST `.gz` files. The output is capped, so a wrong or hostile file is reported instead
// of filling memory; callers turn `GunzipError` into a message about their own file.

import CZlib

public enum GunzipError: Error, Equatable, CustomStringConvertible {
    /// zlib could not set up a stream (out of memory).
    case zlibInitFailed
    /// The data is not a valid stream; `detail` is zlib's message.
    case corrupt(detail: String)
    /// The stream stops before its end (a truncated file).
    case truncated
    /// The output would pass `limit` bytes.
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case .zlibInitFailed: return "zlib could not be initialised"
        case .corrupt(let detail): return "corrupt gzip data (\(detail))"
        case .truncated: return "gzip data ends early (truncated file?)"
        case .tooLarge(let limit): return "decompresses to more than \(limit) bytes"
        }
    }
}

public enum Gunzip {
    /// Largest decompressed size accepted by default. The CLIP merges file is 1.36 MB
    /// compressed, 3.2 MB decompressed; the largest Fashion-MNIST file 47 MB.
    public static let maxOutputBytes = 256 << 20

    /// True if `bytes` start with the gzip magic (1F 8B).
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses one gzip (or zlib) stream; throws `GunzipError` on corrupt or truncated
    /// input, or when the output passes `limit` bytes (exactly `limit` is accepted).
    public static func decompress(_ input: [UInt8], limit: Int = maxOutputBytes) throws -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect a gzip or zlib header.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GunzipError.zlibInitFailed
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        // A guess at the ratio, never beyond what the limit lets the output reach.
        output.reserveCapacity(min(input.count * 4, limit))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return outBuf.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    throw GunzipError.corrupt(detail: stream.msg.map { String(cString: $0) } ?? "zlib status \(status)")
                }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else { throw GunzipError.tooLarge(limit: limit) }
                if status == Z_OK && produced == 0 && stream.avail_in == 0 { throw GunzipError.truncated }
            } while status != Z_STREAM_END
        }
        return output
    }
}
