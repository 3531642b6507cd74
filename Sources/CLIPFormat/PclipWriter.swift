// Writing a .pclip container (formats/pclip.md). Tensors are encoded as they are added (zstd
// frames compressed immediately, so only the stored bytes are kept); `write` lays the file out
// and writes it atomically. The same inputs always give the same bytes.

import CLIPSupport

/// What a writer was given and produced.
public struct PclipWriteSummary: Sendable {
    public let tensorCount: Int
    public let decodedBytes: Int
    public let fileBytes: Int
}

public final class PclipWriter {
    private struct Entry {
        let info: (name: String, dtype: PclipDType, compression: PclipCompression, dims: [Int], groupSize: Int)
        let decodedSize: Int
        let stored: [UInt8]
        let crc: UInt32
    }

    private let metadataBytes: [UInt8]
    private let versionMinor: UInt16
    private var entries: [Entry] = []
    private var names = Set<String>()
    public let zstdLevel: Int32

    public convenience init(metadata: JSONValue, zstdLevel: Int32 = 3) {
        precondition(metadata.members != nil, "metadata must be a JSON object")
        self.init(metadataBytes: Array(metadata.serialized().utf8), versionMinor: Pclip.versionMinor, zstdLevel: zstdLevel)
    }

    /// A writer whose metadata section is `metadataBytes` as given, under `versionMinor`: what a
    /// re-store copies from the file it reads (`PclipFile.metadataBytes`, `versionMinor`), so the
    /// metadata stays byte for byte and keys a newer minor version added keep their version.
    public init(metadataBytes: [UInt8], versionMinor: UInt16, zstdLevel: Int32 = 3) {
        precondition(metadataBytes.count >= 2 && metadataBytes.count <= Pclip.maxMetadataBytes, "metadata size")
        self.metadataBytes = metadataBytes
        self.versionMinor = versionMinor
        self.zstdLevel = zstdLevel
    }

    /// Adds a tensor given its decoded bytes (layouts in the spec's "Decoded sizes and layouts").
    public func add(name: String, dtype: PclipDType, dims: [Int], groupSize: Int = 0,
                    compression: PclipCompression, decoded: [UInt8]) throws {
        precondition(!name.isEmpty && name.utf8.count <= Pclip.maxNameBytes, "bad tensor name '\(name)'")
        precondition(names.insert(name).inserted, "tensor '\(name)' added twice")
        precondition(dims.count <= Pclip.maxRank && dims.allSatisfy { $0 >= 1 }, "bad dims \(dims) for '\(name)'")
        precondition(dtype != .q8 || (groupSize >= 1 && dims.last! % groupSize == 0), "bad group for '\(name)'")
        let expected = PclipTensorInfo.decodedSize(dtype: dtype, dims: dims, groupSize: max(groupSize, 1))
        precondition(decoded.count == expected, "'\(name)': \(decoded.count) bytes given, \(expected) needed")
        let stored = compression == .zstd ? try decoded.withUnsafeBytes { try Zstd.compress($0, level: zstdLevel) } : decoded
        entries.append(Entry(info: (name, dtype, compression, dims, dtype == .q8 ? groupSize : 0),
                             decodedSize: decoded.count, stored: stored, crc: crc32(stored)))
    }

    /// Writes the file to `path` through a temporary file and a rename.
    @discardableResult
    public func write(to path: String) throws -> PclipWriteSummary {
        try write(into: try AtomicFileWriter(path: path))
    }

    /// Writes the file into `out` and commits it (callers that open the output before the slow
    /// encoding, so an unwritable target fails at once and an interrupt finds the temp file).
    @discardableResult
    public func write(into out: AtomicFileWriter) throws -> PclipWriteSummary {
        let directoryOffset = Pclip.headerSize + metadataBytes.count
        let directorySize = entries.reduce(0) { $0 + 2 + $1.info.name.utf8.count + 8 + 8 * $1.info.dims.count + 8 + 8 + 8 + 4 }
        // Every payload starts at a multiple of the alignment (required for raw ones).
        var offsets: [Int] = []
        var position = alignUp(directoryOffset + directorySize, Pclip.alignment)
        for e in entries {
            offsets.append(position)
            position = alignUp(position + e.stored.count, Pclip.alignment)
        }
        var directory: [UInt8] = []
        directory.reserveCapacity(directorySize)
        for (e, offset) in zip(entries, offsets) {
            directory.appendLE(UInt16(e.info.name.utf8.count))
            directory += Array(e.info.name.utf8)
            directory += [e.info.dtype.rawValue, e.info.compression.rawValue, UInt8(e.info.dims.count), 0]
            directory.appendLE(UInt32(e.info.groupSize))
            for d in e.info.dims { directory.appendLE(UInt64(d)) }
            directory.appendLE(UInt64(offset))
            directory.appendLE(UInt64(e.stored.count))
            directory.appendLE(UInt64(e.decodedSize))
            directory.appendLE(e.crc)
        }
        precondition(directory.count == directorySize)
        var header: [UInt8] = Pclip.magic
        header.appendLE(Pclip.versionMajor)
        header.appendLE(versionMinor)
        header.appendLE(UInt32(0))
        header.appendLE(UInt64(Pclip.headerSize))
        header.appendLE(UInt64(metadataBytes.count))
        header.appendLE(UInt64(directoryOffset))
        header.appendLE(UInt64(directorySize))
        header.appendLE(UInt32(entries.count))
        header.appendLE(crc32(metadataBytes))
        header.appendLE(crc32(directory))
        header.appendLE(crc32(header))
        precondition(header.count == Pclip.headerSize)

        try out.write(header)
        try out.write(metadataBytes)
        try out.write(directory)
        var written = directoryOffset + directorySize
        for (e, offset) in zip(entries, offsets) {
            try out.writeZeros(offset - written)
            try out.write(e.stored)
            written = offset + e.stored.count
        }
        try out.commit()
        return PclipWriteSummary(tensorCount: entries.count, decodedBytes: entries.reduce(0) { $0 + $1.decodedSize },
                                 fileBytes: written)
    }
}
