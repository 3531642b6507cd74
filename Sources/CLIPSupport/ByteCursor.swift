// Little-endian binary fields, read and written: the .pclip header and directory, the search
// index, the training checkpoint. Every read is checked against the end of its range first, and
// a short range becomes the caller's own error (which names the file and the field).
// `@inlinable`: the readers and writers call these once per float (index embeddings, checkpoint
// parameters), and an unspecialized generic call across the module boundary costs ~10× the work.

/// Little-endian reads from a byte range, each checked against its end.
///
///     var c = ByteCursor(bytes: header) { o in MyError.truncated("\(o.what) at byte \(o.position)") }
///     let version = try c.uint(UInt16.self, "version")
public struct ByteCursor {
    /// What a read that ran past the end wanted, for the caller's error.
    public struct Overrun {
        /// The field being read ("version_major", "entry 3 path").
        public let what: String
        /// Bytes the read needed.
        public let count: Int
        /// Where the read started.
        public let position: Int
        /// Bytes left from `position` to the end.
        public let remaining: Int

        @usableFromInline init(what: String, count: Int, position: Int, remaining: Int) {
            (self.what, self.count, self.position, self.remaining) = (what, count, position, remaining)
        }
    }

    public let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    public var position = 0
    /// Builds the error for a read past the end.
    @usableFromInline let overrun: (Overrun) -> Error

    public init(bytes: UnsafeRawBufferPointer, overrun: @escaping (Overrun) -> Error) {
        self.bytes = bytes
        self.overrun = overrun
    }

    @inlinable public var remaining: Int { bytes.count - position }

    /// Throws the overrun error unless `n` more bytes are there (reads nothing).
    @inlinable public func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else {
            throw overrun(Overrun(what: what, count: n, position: position, remaining: max(0, remaining)))
        }
    }

    /// The next `n` bytes.
    @inlinable public mutating func take(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        try need(n, what)
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    @inlinable public mutating func u8(_ what: String) throws -> UInt8 { try take(1, what)[0] }

    /// An unsigned integer stored little-endian.
    @inlinable public mutating func uint<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, _ what: String) throws -> T {
        let b = try take(MemoryLayout<T>.size, what)
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size { v |= T(b[i]) << (8 * i) }
        return v
    }
}

extension Array where Element == UInt8 {
    /// Appends `v` little-endian (the writing side of `ByteCursor.uint`).
    @inlinable public mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        for i in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }
}
