// libFuzzer entry for the .pclip reader: any bytes must open cleanly or throw, never crash,
// read out of bounds, or allocate more than the input justifies. Opened files are then read
// through every public path (checksums, decompression, float and byte views).
//
// Each input is parsed twice: as given, and with its header, metadata and directory CRC-32s
// recomputed. A random mutation almost always breaks a checksum, which the reader rightly
// rejects first; the second pass lets mutations of the header fields, metadata and directory
// reach the validation behind those gates.

import CLIPFormat
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPclip(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    exercise(bytes)
    if let fixed = withPclipChecksumsFixed(bytes), fixed != bytes { exercise(fixed) }
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
