// CRC-32 (the zlib / PNG polynomial) through the system zlib: one well-tested implementation,
// and the one Python's `zlib.crc32` gives, so test vectors can be made independently.

import CZlib

/// crc32 of `bytes`, continuing from `initial` (0 to start).
public func crc32(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
    var crc = UInt(initial)
    var base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    var remaining = bytes.count
    // zlib takes a 32-bit length: feed large buffers in pieces.
    while remaining > 0, let b = base {
        let n = min(remaining, 1 << 30)
        crc = CZlib.crc32(crc, b, uInt(n))
        base = b + n
        remaining -= n
    }
    return UInt32(truncatingIfNeeded: crc)
}

public func crc32(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { crc32($0) }
}
