// zstd compression of single tensors (one frame each, content size in the frame header), and
// exact decompression straight into a caller's final buffer.

import CZstd

enum Zstd {
    /// `ZSTD_CONTENTSIZE_UNKNOWN` / `ZSTD_CONTENTSIZE_ERROR` (C macros Swift does not import).
    static let contentSizeUnknown = UInt64.max
    static let contentSizeError = UInt64.max - 1

    static func errorName(_ code: Int) -> String { String(cString: ZSTD_getErrorName(code)) }

    /// One zstd frame holding `source`, with its content size recorded (the simple API does).
    /// Deterministic for a given zstd version and level.
    static func compress(_ source: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        let bound = ZSTD_compressBound(source.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            ZSTD_compress(dst.baseAddress, dst.count, source.baseAddress, source.count, level)
        }
        if ZSTD_isError(written) != 0 { throw PclipError.compressionFailed(reason: errorName(written)) }
        out.removeLast(out.count - written)
        return out
    }

    /// Checks that `source` is exactly one frame declaring `decodedSize` bytes (reads headers only).
    static func checkFrame(_ source: UnsafeRawBufferPointer, decodedSize: Int, tensor: String) throws {
        let frameSize = ZSTD_findFrameCompressedSize(source.baseAddress, source.count)
        if ZSTD_isError(frameSize) != 0 {
            throw PclipError.badPayload(tensor: tensor, detail: "not a complete zstd frame (\(errorName(frameSize)))")
        }
        guard frameSize == source.count else {
            throw PclipError.badPayload(tensor: tensor, detail: "\(source.count - frameSize) bytes after the zstd frame")
        }
        let declared = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        guard declared != contentSizeError, declared != contentSizeUnknown else {
            throw PclipError.badPayload(tensor: tensor, detail: "the zstd frame does not record its content size")
        }
        guard declared == UInt64(decodedSize) else {
            throw PclipError.badPayload(tensor: tensor, detail: "the zstd frame holds \(declared) bytes, the directory says \(decodedSize)")
        }
    }

    /// Decompresses `source`, which must be exactly one frame declaring `destination.count`
    /// bytes, into `destination`; any other shape of input is an error naming the tensor.
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                           tensor: String) throws {
        try checkFrame(source, decodedSize: destination.count, tensor: tensor)
        let produced = ZSTD_decompress(destination.baseAddress, destination.count, source.baseAddress, source.count)
        if ZSTD_isError(produced) != 0 {
            throw PclipError.badPayload(tensor: tensor, detail: "zstd: \(errorName(produced))")
        }
        guard produced == destination.count else {
            throw PclipError.badPayload(tensor: tensor, detail: "the zstd frame decompressed to \(produced) bytes, expected \(destination.count)")
        }
    }
}
