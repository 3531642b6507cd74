import CZlib

// Decompression of `bpe_simple_vocab_16e6.txt.gz` with the system zlib (inflate with automatic
// gzip/zlib header detection). The output is capped: a vocabulary file is a few MB, so anything
// far larger is a wrong or hostile file, reported instead of filling memory.

enum Gunzip {
    /// Largest accepted decompressed size. The CLIP merges file is 1.36 MB compressed, 3.2 MB
    /// decompressed; 256 MB leaves room for much larger vocabularies.
    static let maxOutputBytes = 256 << 20

    static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses a gzip (or zlib) stream; throws with `path` in the message on corrupt input
    /// or when the output passes `limit` bytes (tests pass a small one to reach the edge cheaply).
    static func decompress(_ input: [UInt8], path: String, limit: Int = maxOutputBytes) throws -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect a gzip or zlib header.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TokenizerError.unreadableFile(path: path, reason: "zlib could not be initialised")
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
                    let detail = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    throw TokenizerError.unreadableFile(
                        path: path, reason: "corrupt gzip data (\(detail)); re-download the vocabulary file")
                }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else {
                    throw TokenizerError.unreadableFile(
                        path: path, reason: "decompresses to more than \(limit) bytes (\(limit >> 20) MB); not a vocabulary file")
                }
                if status == Z_OK && produced == 0 && stream.avail_in == 0 {
                    throw TokenizerError.unreadableFile(
                        path: path, reason: "gzip data ends early (truncated file?); re-download it")
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}
