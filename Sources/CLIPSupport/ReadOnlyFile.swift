// Bounded reads from a file by offset, without Foundation. Every read is checked against the
// file's size first, so a lying header can never make us allocate more than the file holds.

/// Errors about files themselves (missing, unreadable, too short, not writable).
public enum FileError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case readFailed(path: String, reason: String)
    case outOfBounds(path: String, offset: Int, count: Int, size: Int)
    /// From `AtomicFileWriter`: the target could not be created, written or renamed into place.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open '\(path)': \(reason)"
        case let .readFailed(path, reason): return "cannot read '\(path)': \(reason)"
        case let .outOfBounds(path, offset, count, size):
            return "'\(path)' is truncated or corrupt: needed bytes \(offset)..<\(offset + count) but the file has \(size)"
        case let .writeFailed(path, reason): return "cannot write '\(path)': \(reason)"
        }
    }
}

/// The message of the current `errno`.
func systemError() -> String { String(cString: strerror(errno)) }

/// An open file read with `pread`; closed when the last reference goes away.
public final class ReadOnlyFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let fd: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemError()) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = systemError()
            close(fd)
            throw FileError.cannotOpen(path: path, reason: reason)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError.cannotOpen(path: path, reason: "not a regular file")
        }
        self.fd = fd
        self.path = path
        self.size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Fills `buffer` with `buffer.count` bytes at `offset`, after checking they are in the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        let count = buffer.count
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw FileError.outOfBounds(path: path, offset: offset, count: count, size: size)
        }
        var done = 0
        while done < count {
            let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.readFailed(path: path, reason: systemError())
            }
            if n == 0 { throw FileError.outOfBounds(path: path, offset: offset, count: count, size: offset + done) }
            done += n
        }
    }

    /// `count` bytes at `offset`.
    public func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw FileError.outOfBounds(path: path, offset: offset, count: count, size: size)
        }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        return out
    }

    /// The whole file (for small text files such as configs).
    public func readAll(limit: Int) throws -> [UInt8] {
        guard size <= limit else {
            throw FileError.readFailed(path: path, reason: "file is \(size) bytes, more than the \(limit) allowed for it")
        }
        return try bytes(at: 0, count: size)
    }
}

/// True if `path` names an existing directory.
public func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// True if `path` names an existing file or directory.
public func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

/// The whole content of a file read until end of file: for procfs files such as
/// /proc/self/status, which report a size of 0. Nil if it cannot be opened; bounded by `limit`.
public func readUntilEnd(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}
