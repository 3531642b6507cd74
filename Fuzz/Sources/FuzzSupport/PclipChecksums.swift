// Shared by the fuzz targets that read .pclip containers (FuzzPclip, FuzzHead).

import CLIPFormat
import CLIPSupport

/// `bytes` with the metadata and directory CRC-32s (when the header's ranges for them lie inside
/// the input) and then the header CRC-32 recomputed; nil when shorter than a header.
/// Field offsets are those of formats/pclip.md's FileHeader.
///
/// A random mutation almost always breaks a checksum, which the reader rightly rejects first;
/// parsing the fixed-up copy too lets mutations of the header, metadata and directory reach the
/// validation behind those gates.
public func withPclipChecksumsFixed(_ bytes: [UInt8]) -> [UInt8]? {
    guard bytes.count >= Pclip.headerSize else { return nil }
    var out = bytes
    func u64(at o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
    func put(_ v: UInt32, at o: Int) { for i in 0..<4 { out[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
    func crcOfRange(offset: UInt64, size: UInt64) -> UInt32? {
        guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else { return nil }
        return crc32(Array(bytes[Int(offset)..<Int(offset + size)]))
    }
    if let c = crcOfRange(offset: u64(at: 16), size: u64(at: 24)) { put(c, at: 52) }
    if let c = crcOfRange(offset: u64(at: 32), size: u64(at: 40)) { put(c, at: 56) }
    put(crc32(Array(out[0..<60])), at: 60)
    return out
}

/// `withPclipChecksumsFixed(bytes)` with, in addition, every tensor's payload CRC-32 (for the
/// entries whose directory fields lie inside the input) recomputed, so mutated payloads reach the
/// decoding behind the payload checksum. The directory walk follows formats/pclip.md's
/// TensorEntry and stops at the first entry that does not fit.
public func withPclipPayloadChecksumsFixed(_ bytes: [UInt8]) -> [UInt8]? {
    guard bytes.count >= Pclip.headerSize else { return nil }
    var out = bytes
    func u(_ o: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(out[o + $1]) << (8 * $1) } }
    // 7 of each u64's 8 bytes: enough for any offset inside an input, and the sum cannot overflow.
    let directoryOffset = u(32, 7), directorySize = u(40, 7)
    let end = min(out.count, directoryOffset + directorySize)
    var p = min(directoryOffset, out.count)
    for _ in 0..<min(u(48, 4), 4096) {
        guard p + 2 <= end else { break }
        p += 2 + u(p, 2)                               // name_len, name
        guard p + 8 <= end else { break }
        let rank = Int(out[p + 2])
        p += 8 + 8 * rank                              // dtype, compression, rank, reserved, group, dims
        guard p + 28 <= end else { break }
        let offset = u(p, 7), stored = u(p + 8, 7)
        if offset <= out.count, stored <= out.count - offset {
            let c = crc32(Array(out[offset..<(offset + stored)]))
            for i in 0..<4 { out[p + 24 + i] = UInt8(truncatingIfNeeded: c >> (8 * UInt32(i))) }
        }
        p += 28
    }
    return withPclipChecksumsFixed(out)
}

/// A scratch file path for round trips through the real writers (which write atomically and
/// fsync): on tmpfs when there is one, so a valid input costs no disk flush. One per process.
public let fuzzScratchDirectory: String = {
    var st = stat()
    return stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp"
}()
