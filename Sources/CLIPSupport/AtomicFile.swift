// Writing a file so that the target path only ever holds a complete file: write to a hidden
// temporary name in the same directory, fsync, rename over the target, fsync the directory.
// A failure (disk full, read-only target, bad input) removes the temporary file; so does
// SIGINT/SIGTERM/SIGHUP while a write is in progress. Only SIGKILL or a power cut can leave the
// temporary behind — never a partial file at the target path.
//
// The cleanup handler goes only where the signal would kill the process anyway (disposition
// SIG_DFL). A program that handles the signal itself — `pocketclip train` stops after its current
// step and saves — keeps its handler: the write then completes, and the program stops at its next
// check. Afterwards exactly the dispositions this writer changed are put back to SIG_DFL, so a
// program's own handler is never replaced, during or after a write.

/// The temporary file to delete if a signal arrives mid-write (one writer per process at a time).
nonisolated(unsafe) private var pendingTemporaryPath: UnsafeMutablePointer<CChar>?
/// The signals whose disposition this writer set (they were SIG_DFL before).
nonisolated(unsafe) private var installedSignals: [Int32] = []
private let cleanupSignals = [SIGINT, SIGTERM, SIGHUP]

private func removePendingAndReraise(_ signal: Int32) {
    if let path = pendingTemporaryPath { unlink(path) }  // async-signal-safe
    Glibc.signal(signal, SIG_DFL)
    raise(signal)
}

/// Removes what a killed writer (SIGKILL, a power cut) left for the same target: `.NAME.tmp-PID`
/// files whose process no longer exists. A file whose PID is alive is kept (it may be another
/// writer's). A writer in another PID namespace sharing the directory would look dead: such
/// setups should not write one target from two containers anyway.
private func removeStaleTemporaries(dir: String, name: String) {
    guard let d = opendir(dir.isEmpty ? "." : dir) else { return }
    let prefix = ".\(name).tmp-"
    var stale: [String] = []
    while let entry = readdir(d) {
        let file = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard file.hasPrefix(prefix), let pid = Int32(file.dropFirst(prefix.count)), pid > 0, pid != getpid() else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { stale.append(dir + file) }
    }
    closedir(d)
    for file in stale { unlink(file) }
}

/// A file written in full or not at all.
///
///     try AtomicFileWriter.write(Array(csv.utf8), to: "out/curve.csv")
///     // or, to fail at once on an unwritable target before slow work:
///     let out = try AtomicFileWriter(path: path); ...; try out.write(bytes); try out.commit()
public final class AtomicFileWriter {
    /// Writes `bytes` as the whole new content of `path`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try AtomicFileWriter(path: path)
        try w.write(bytes)
        try w.commit()
    }

    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var finished = false

    /// Creates the temporary file next to `path`.
    public init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = "\(dir).\(name).tmp-\(getpid())"
        removeStaleTemporaries(dir: dir, name: name)
        // The handler is in place before the file exists: no instant where a signal could leave it.
        pendingTemporaryPath = strdup(temporaryPath)
        installCleanupHandlers()
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let reason = systemError()
            clearPending()
            throw FileError.writeFailed(path: path, reason: reason)
        }
    }

    deinit { if !finished { abort() } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = systemError()
                abort()
                throw FileError.writeFailed(path: path, reason: reason)
            }
            done += n
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Makes the file durable and moves it to the target path.
    public func commit() throws {
        guard fsync(fd) == 0 else { let r = systemError(); abort(); throw FileError.writeFailed(path: path, reason: r) }
        guard close(fd) == 0 else { let r = systemError(); fd = -1; abort(); throw FileError.writeFailed(path: path, reason: r) }
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let r = systemError()
            abort()
            throw FileError.writeFailed(path: path, reason: r)
        }
        finished = true
        clearPending()
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Removes the temporary file; the target path is untouched.
    public func abort() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        finished = true
        clearPending()
    }

    private func clearPending() {
        for s in installedSignals { signal(s, SIG_DFL) }
        installedSignals = []
        if let p = pendingTemporaryPath { pendingTemporaryPath = nil; free(p) }
    }
}

/// Sets the cleanup handler for each signal still at SIG_DFL; an ignored or handled signal is left alone.
private func installCleanupHandlers() {
    for s in cleanupSignals {
        var current = sigaction()
        guard sigaction(s, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil else { continue }
        var handler = sigaction()
        handler.__sigaction_handler.sa_handler = removePendingAndReraise
        sigemptyset(&handler.sa_mask)
        handler.sa_flags = SA_RESTART
        if sigaction(s, &handler, nil) == 0 { installedSignals.append(s) }
    }
}
