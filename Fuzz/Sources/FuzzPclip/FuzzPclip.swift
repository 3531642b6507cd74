// libFuzzer entry for the .pclip reader: any bytes must open cleanly or throw, never crash,
// read out of bounds, or allocate more than the input justifies. Opened files are then read
// through every public path (checksums, decompression, float and byte views).
//
// Each input is parsed twice: as given, and with its header, metadata and directory CRC-32s
// recomputed. A random mutation almost always breaks a checksum, which the reader rightly
// rejects first; the second pass lets mutations of the header fields, metadata and directory
// reach the validation behind those gates.

import CLIPFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPclip(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    exercise(bytes)
    if let fixed = withChecksumsFixed(bytes), fixed != bytes { exercise(fixed) }
    return 0
}

private func exercise(_ bytes: [UInt8]) {
    guard let file = try? PclipFile(bytes: bytes) else { return }
    _ = try? file.verifyAll()
    for info in file.tensors {
        // Without the payload checksum gate, so mutated frames reach the zstd decoder too.
        _ = try? file.data(info.name, verify: false)
        _ = try? file.floats(info.name)
        _ = try? file.bytes(info.name)
    }
}

/// `bytes` with the metadata and directory CRC-32s (when the header's ranges for them lie inside
/// the input) and then the header CRC-32 recomputed; nil when shorter than a header.
/// Field offsets are those of formats/pclip.md's FileHeader.
private func withChecksumsFixed(_ bytes: [UInt8]) -> [UInt8]? {
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
