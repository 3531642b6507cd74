// Read-only bytes of a whole file, memory-mapped (so raw tensors are used in place and count
// as file-backed, reclaimable pages), or copied from an array (tests and fuzzing).

public final class MappedBytes: @unchecked Sendable {
    /// Where a copy starts: a multiple of 64 bytes (a cache line, and the .pclip payload
    /// alignment), so views into a copy are as aligned as views into a mapped file.
    public static let copyAlignment = 64

    public let base: UnsafeRawPointer?
    public let count: Int
    private let mapped: Bool

    /// Maps `path` read-only. An empty file maps to an empty buffer.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemError()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError.cannotOpen(path: path, reason: systemError()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError.cannotOpen(path: path, reason: "not a regular file") }
        count = Int(st.st_size)
        mapped = count > 0
        guard count > 0 else { base = nil; return }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FileError.cannotOpen(path: path, reason: "mmap: \(systemError())") }
        base = UnsafeRawPointer(p)
    }

    /// A private copy of `bytes`.
    public init(bytes: [UInt8]) {
        count = bytes.count
        mapped = false
        guard !bytes.isEmpty else { base = nil; return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: MappedBytes.copyAlignment)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        guard let base else { return }
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { base.deallocate() }
    }

    /// The bytes in `range`, which the caller has checked lies inside the buffer.
    public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice \(range) outside \(count) bytes")
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    public var all: UnsafeRawBufferPointer { slice(0..<count) }

    /// Tells the kernel the mapped pages inside `range` are not needed now (they are re-read
    /// from the file if touched again). Used after a compressed tensor has been decoded, so its
    /// compressed pages do not stay resident beside the decoded copy.
    public func release(_ range: Range<Int>) {
        guard mapped, let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page, end = range.upperBound / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }
}
