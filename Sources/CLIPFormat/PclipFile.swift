// Reading a .pclip container: every size and offset is checked against the file before
// anything is allocated (formats/pclip.md, "Validation a reader performs", steps 1, 2, 4, 6).
// Raw payloads are used in place from the memory map; zstd payloads are decompressed straight
// into their final buffers, one tensor at a time.

import CLIPSupport

/// A tensor's decoded bytes: a view into the mapped file (raw) or an owned buffer (zstd).
public struct PclipTensorData: @unchecked Sendable {
    public let info: PclipTensorInfo
    private let owner: AnyObject?
    private let view: UnsafeRawBufferPointer

    init(info: PclipTensorInfo, mapped view: UnsafeRawBufferPointer, file: MappedBytes) {
        self.info = info
        self.view = view
        self.owner = file
    }

    init(info: PclipTensorInfo, owned buffer: OwnedBuffer) {
        self.info = info
        self.view = UnsafeRawBufferPointer(buffer.bytes)
        self.owner = buffer
    }

    /// True when the bytes are the file's own pages (memory-mapped), not a copy.
    public var isMapped: Bool { owner is MappedBytes }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(view) }
    }
}

/// A buffer aligned like raw payloads, freed with its last reference. Large ones are mapped
/// straight from the kernel so that freeing them returns the memory at once (glibc's malloc
/// raises its mmap threshold after such frees and would keep later decode buffers in its heap,
/// adding megabytes to a board's resident set).
final class OwnedBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    private let mapped: Bool
    static let mapThreshold = 1 << 16

    init(count: Int) {
        if count >= Self.mapThreshold,
           let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            bytes = UnsafeMutableRawBufferPointer(start: p, count: count)
            mapped = true
        } else {
            bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: Pclip.alignment)
            mapped = false
        }
    }

    deinit {
        if mapped { munmap(bytes.baseAddress, bytes.count) } else { bytes.deallocate() }
    }
}

/// An opened, validated .pclip container.
///
/// ```swift
/// let file = try PclipFile(path: "model.pclip")
/// let w = try file.floats(file.tensors[0].name)   // f32, f16 or q8 → Float
/// ```
public final class PclipFile: @unchecked Sendable {
    public let path: String
    public let versionMinor: UInt16
    /// The metadata JSON object.
    public let metadata: JSONValue
    /// The metadata section as stored (what a re-store copies byte for byte).
    public var metadataBytes: [UInt8] { Array(storage.slice(metadataRange)) }
    /// Directory order.
    public let tensors: [PclipTensorInfo]
    public var fileSize: Int { storage.count }
    private let index: [String: Int]
    private let storage: MappedBytes
    private let metadataRange: Range<Int>

    /// Opens and validates the container at `path` (memory-mapped).
    public convenience init(path: String) throws {
        try self.init(storage: try MappedBytes(path: path), path: path)
    }

    /// Validates a container held in memory (tests, fuzzing).
    public convenience init(bytes: [UInt8]) throws {
        try self.init(storage: MappedBytes(bytes: bytes), path: "<memory>")
    }

    init(storage: MappedBytes, path: String) throws {
        self.storage = storage
        self.path = path
        let file = storage.all
        guard file.count >= Pclip.headerSize else { throw PclipError.tooSmall(size: file.count) }
        // 1. Header.
        guard Array(file[0..<8]) == Pclip.magic else { throw PclipError.badMagic }
        var h = ByteCursor(bytes: UnsafeRawBufferPointer(rebasing: file[0..<64])) { _ in PclipError.tooSmall(size: file.count) }
        _ = try h.take(8, "magic")
        let major = try h.uint(UInt16.self, "version_major")
        let minor = try h.uint(UInt16.self, "version_minor")
        let flags = try h.uint(UInt32.self, "flags")
        let metadataOffset = try h.uint(UInt64.self, "metadata_offset")
        let metadataSize = try h.uint(UInt64.self, "metadata_size")
        let directoryOffset = try h.uint(UInt64.self, "directory_offset")
        let directorySize = try h.uint(UInt64.self, "directory_size")
        let tensorCount = try h.uint(UInt32.self, "tensor_count")
        let metadataCRC = try h.uint(UInt32.self, "metadata_crc32")
        let directoryCRC = try h.uint(UInt32.self, "directory_crc32")
        let headerCRC = try h.uint(UInt32.self, "header_crc32")
        let computedHeaderCRC = crc32(UnsafeRawBufferPointer(rebasing: file[0..<60]))
        guard computedHeaderCRC == headerCRC else { throw PclipError.headerChecksum(stored: headerCRC, computed: computedHeaderCRC) }
        guard major == Pclip.versionMajor else { throw PclipError.unsupportedVersion(major: major, minor: minor) }
        guard flags == 0 else { throw PclipError.unknownFlags(flags) }
        versionMinor = minor

        // 2. Sections: inside the file, within limits, after the header, not overlapping.
        func section(_ name: String, _ offset: UInt64, _ size: UInt64, limit: Int, minimum: Int) throws -> Range<Int> {
            guard size >= UInt64(minimum), size <= UInt64(limit) else {
                throw PclipError.badSection(section: name, detail: "size \(size) is outside \(minimum)...\(limit)")
            }
            guard offset >= UInt64(Pclip.headerSize) else {
                throw PclipError.badSection(section: name, detail: "it starts at byte \(offset), so it overlaps the header (bytes 0..<\(Pclip.headerSize))")
            }
            guard offset <= UInt64(file.count), size <= UInt64(file.count) - offset else {
                throw PclipError.badSection(section: name, detail: "bytes \(offset)..<\(offset &+ size) are not inside the \(file.count)-byte file (truncated?)")
            }
            return Int(offset)..<Int(offset + size)
        }
        let metadataRange = try section("metadata", metadataOffset, metadataSize, limit: Pclip.maxMetadataBytes, minimum: 2)
        let directoryRange = try section("directory", directoryOffset, directorySize, limit: Pclip.maxDirectoryBytes, minimum: 0)
        guard !metadataRange.overlaps(directoryRange) else {
            throw PclipError.badSection(section: "directory", detail: "it overlaps the metadata")
        }
        self.metadataRange = metadataRange
        let metadataBytes = storage.slice(metadataRange), directoryBytes = storage.slice(directoryRange)
        let computedMetadataCRC = crc32(metadataBytes)
        guard computedMetadataCRC == metadataCRC else {
            throw PclipError.sectionChecksum(section: "metadata", stored: metadataCRC, computed: computedMetadataCRC)
        }
        let computedDirectoryCRC = crc32(directoryBytes)
        guard computedDirectoryCRC == directoryCRC else {
            throw PclipError.sectionChecksum(section: "directory", stored: directoryCRC, computed: computedDirectoryCRC)
        }
        do {
            metadata = try parseJSON(Array(metadataBytes))
        } catch let e as JSONError {
            throw PclipError.badMetadata(e.description)
        }
        guard metadata.members != nil else { throw PclipError.badMetadata("it is not a JSON object") }

        // 4. Directory entries.
        guard tensorCount <= UInt32(Pclip.maxTensors) else {
            throw PclipError.badSection(section: "directory", detail: "\(tensorCount) tensors (limit \(Pclip.maxTensors))")
        }
        var entries: [PclipTensorInfo] = []
        var index: [String: Int] = [:]
        var cursor = ByteCursor(bytes: directoryBytes) { o in
            PclipError.badSection(section: "directory", detail: "it ends inside a tensor entry (at \(o.what))")
        }
        for i in 0..<Int(tensorCount) {
            let entry = try Self.readEntry(&cursor, index: i, fileSize: file.count)
            guard index[entry.name] == nil else { throw PclipError.duplicateName(entry.name) }
            index[entry.name] = entries.count
            entries.append(entry)
        }
        guard cursor.remaining == 0 else {
            throw PclipError.badSection(section: "directory", detail: "\(cursor.remaining) bytes after the last of \(tensorCount) entries")
        }
        // No stored range may overlap another, the header, the metadata or the directory.
        let fixed: [(String, Range<Int>)] = [("<header>", 0..<Pclip.headerSize), ("<metadata>", metadataRange), ("<directory>", directoryRange)]
        let spans = (fixed + entries.map { ($0.name, $0.storedRange) }).filter { !$0.1.isEmpty }
            .sorted { $0.1.lowerBound < $1.1.lowerBound }
        for (a, b) in zip(spans, spans.dropFirst()) where a.1.upperBound > b.1.lowerBound {
            throw PclipError.overlap(first: a.0, second: b.0)
        }
        tensors = entries
        self.index = index
    }

    private static func readEntry(_ c: inout ByteCursor, index i: Int, fileSize: Int) throws -> PclipTensorInfo {
        let nameLength = Int(try c.uint(UInt16.self, "name_length"))
        guard nameLength >= 1, nameLength <= Pclip.maxNameBytes else {
            throw PclipError.badEntry(index: i, name: nil, detail: "name length \(nameLength) is outside 1...\(Pclip.maxNameBytes)")
        }
        guard let name = String(validating: Array(try c.take(nameLength, "name")), as: UTF8.self) else {
            throw PclipError.badEntry(index: i, name: nil, detail: "the name is not valid UTF-8")
        }
        func bad(_ detail: String) -> PclipError { .badEntry(index: i, name: name, detail: detail) }
        let dtypeCode = try c.u8("dtype"), compressionCode = try c.u8("compression")
        let rank = Int(try c.u8("rank")), reserved = try c.u8("reserved")
        let groupSize = Int(try c.uint(UInt32.self, "group_size"))
        guard let dtype = PclipDType(rawValue: dtypeCode) else { throw bad("unknown dtype code \(dtypeCode)") }
        guard let compression = PclipCompression(rawValue: compressionCode) else {
            throw bad("unknown compression code \(compressionCode)")
        }
        guard reserved == 0 else { throw bad("reserved byte is \(reserved), not 0") }
        guard rank <= Pclip.maxRank else { throw bad("rank \(rank) (limit \(Pclip.maxRank))") }
        var dims: [Int] = []
        var count = 1
        for d in 0..<rank {
            let v = try c.uint(UInt64.self, "dims[\(d)]")
            guard v >= 1, v <= UInt64(Pclip.maxElements) else { throw bad("dimension \(d) is \(v)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(v))
            guard !overflow, product <= Pclip.maxElements else { throw bad("more than 2^40 elements") }
            count = product
            dims.append(Int(v))
        }
        let offset = try c.uint(UInt64.self, "offset")
        let storedSize = try c.uint(UInt64.self, "stored_size")
        let decodedSize = try c.uint(UInt64.self, "decoded_size")
        let crc = try c.uint(UInt32.self, "crc32")
        switch dtype {
        case .q8:
            guard rank >= 1 else { throw bad("a q8 tensor needs rank 1 or more") }
            guard groupSize >= 1, dims[rank - 1] % groupSize == 0 else {
                throw bad("group size \(groupSize) does not divide the last dimension \(dims[rank - 1])")
            }
        case .bytes:
            guard rank == 1, groupSize == 0 else { throw bad("a bytes tensor needs rank 1 and group size 0") }
        case .f32, .f16:
            guard groupSize == 0 else { throw bad("group size \(groupSize) on a \(dtype) tensor") }
        }
        let expected = PclipTensorInfo.decodedSize(dtype: dtype, dims: dims, groupSize: max(groupSize, 1))
        guard decodedSize == UInt64(expected) else {
            throw bad("decoded size \(decodedSize) but \(dtype) \(dims) needs \(expected)")
        }
        guard offset <= UInt64(fileSize), storedSize <= UInt64(fileSize) - offset else {
            throw bad("stored bytes \(offset)..<\(offset &+ storedSize) are not inside the \(fileSize)-byte file (truncated?)")
        }
        switch compression {
        case .raw:
            guard storedSize == decodedSize else { throw bad("raw but stored size \(storedSize) ≠ decoded size \(decodedSize)") }
            guard offset % UInt64(Pclip.alignment) == 0 else { throw bad("raw payload at \(offset), not a multiple of \(Pclip.alignment)") }
        case .zstd:
            guard decodedSize <= storedSize * UInt64(Pclip.maxExpansion) + (1 << 20) else {
                throw bad("\(storedSize) compressed bytes cannot honestly hold \(decodedSize) bytes")
            }
        }
        return PclipTensorInfo(name: name, dtype: dtype, compression: compression, dims: dims, groupSize: groupSize,
                               offset: Int(offset), storedSize: Int(storedSize), decodedSize: Int(decodedSize), crc32: crc)
    }

    public func info(_ name: String) throws -> PclipTensorInfo {
        guard let i = index[name] else { throw PclipError.noSuchTensor(name) }
        return tensors[i]
    }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// Checks a tensor's stored bytes against its CRC-32.
    public func verifyChecksum(_ info: PclipTensorInfo) throws {
        let computed = crc32(storage.slice(info.storedRange))
        guard computed == info.crc32 else { throw PclipError.payloadChecksum(tensor: info.name, stored: info.crc32, computed: computed) }
    }

    /// A tensor's decoded bytes: in place for raw payloads, decompressed for zstd ones.
    public func data(_ name: String, verify: Bool = true) throws -> PclipTensorData {
        let info = try info(name)
        if verify { try verifyChecksum(info) }
        let stored = storage.slice(info.storedRange)
        switch info.compression {
        case .raw:
            return PclipTensorData(info: info, mapped: stored, file: storage)
        case .zstd:
            // The frame header must agree before the decoded size is allocated.
            try Zstd.checkFrame(stored, decodedSize: info.decodedSize, tensor: name)
            let buffer = OwnedBuffer(count: info.decodedSize)
            try Zstd.decompress(stored, into: UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<info.decodedSize]), tensor: name)
            storage.release(info.storedRange)
            return PclipTensorData(info: info, owned: buffer)
        }
    }

    /// Lets the kernel drop the file pages of a tensor that has been copied elsewhere (e.g. packed
    /// for the int8 kernels): they are re-read from the file if touched again.
    public func releasePages(of info: PclipTensorInfo) {
        storage.release(info.storedRange)
    }

    /// A float tensor (f32, f16, or q8 dequantized) with its dims.
    public func floats(_ name: String) throws -> (dims: [Int], values: [Float]) {
        let d = try data(name)
        let info = d.info, n = info.elementCount
        var out = [Float](repeating: 0, count: n)
        try d.withUnsafeBytes { raw in
            try out.withUnsafeMutableBufferPointer { o in
                switch info.dtype {
                case .f32:
                    UnsafeMutableRawBufferPointer(o).copyMemory(from: raw)
                case .f16:
                    for i in 0..<n { o[i] = floatFromHalf(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                case .q8:
                    let k = info.dims.last!
                    Q8.dequantize(q: raw.baseAddress!.assumingMemoryBound(to: Int8.self),
                                  scales: (raw.baseAddress! + Q8.scalesOffset(count: n)).assumingMemoryBound(to: Float.self),
                                  rows: n / k, k: k, groupSize: info.groupSize, into: o.baseAddress!)
                case .bytes:
                    throw PclipError.wrongDType(tensor: name, expected: "a float dtype (f32, f16, q8)", found: .bytes)
                }
            }
        }
        return (info.dims, out)
    }

    /// A bytes tensor's contents.
    public func bytes(_ name: String) throws -> [UInt8] {
        let d = try data(name)
        guard d.info.dtype == .bytes else { throw PclipError.wrongDType(tensor: name, expected: "bytes", found: d.info.dtype) }
        return d.withUnsafeBytes { Array($0) }
    }

    /// Checks every tensor: its CRC-32, and for zstd payloads that the frame decompresses to
    /// exactly the declared size. One tensor in memory at a time.
    public func verifyAll(progress: ((Int, PclipTensorInfo) -> Void)? = nil) throws {
        for (i, info) in tensors.enumerated() {
            progress?(i, info)
            _ = try data(info.name, verify: true)
        }
    }
}
