// Small output helpers: JSON literals written by hand (shortest round-trip floats), text files.

import ArgumentParser
import CLIPConvert
import CLIPFormat
import CLIPKernels
import CLIPRuntime
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

func jsonString(_ s: String) -> String { jsonQuoted(s) }

/// Floats print in Swift's shortest form that reads back to the same Float; non-finite → null.
func jsonNumber(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }

func jsonArray(_ v: [Float]) -> String { "[" + v.map(jsonNumber).joined(separator: ", ") + "]" }

func formatPercent(_ p: Float) -> String {
    let tenths = Int((Double(p) * 1000).rounded())
    return "\(tenths / 10).\(tenths % 10)%"
}

/// Fails at once with the writer's one-line error ("cannot write 'PATH': Read-only file system")
/// when `path` cannot be created — read-only target, missing directory, no permission — rather
/// than after the minutes of work whose result it was to hold. Leaves nothing behind.
func checkWritable(_ path: String) throws { try AtomicFileWriter(path: path).abort() }

/// Largest labels or templates file read (`--labels-file`, `--templates-file`): 100,000 labels
/// (PromptTemplates.maxLabels) of up to ~160 bytes each.
let maxTextFileBytes = 16 << 20

/// A UTF-8 text file (labels lists, image lists), bounded in size; "-" reads standard input.
func readTextFile(_ path: String, limit: Int = maxTextFileBytes) throws -> String {
    let bytes = path == "-" ? try readStandardInput(limit: limit) : try ReadOnlyFile(path: path).readAll(limit: limit)
    return String(decoding: bytes, as: UTF8.self)
}

/// `--threads` as given: at least 1, at most `WorkerPool.maxThreads` (4 × the cores this process
/// may use, 256 at most).
func checkThreads(_ threads: Int?) throws {
    guard let threads else { return }
    guard (1...WorkerPool.maxThreads).contains(threads) else {
        throw ValidationError("--threads must be in 1...\(WorkerPool.maxThreads) (4 × the \(WorkerPool.availableCores) cores this process may use, 256 at most), got \(threads)")
    }
}

/// Standard input to its end, refused past `limit` bytes.
func readStandardInput(limit: Int) throws -> [UInt8] {
    var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw FileError.readFailed(path: "standard input", reason: String(cString: strerror(errno))) }
        if n == 0 { return bytes }
        bytes += chunk[0..<n]
        if bytes.count > limit {
            throw FileError.readFailed(path: "standard input", reason: "more than the \(limit) bytes allowed for it")
        }
    }
}

/// The lines of a text file as any editor writes them, numbered from 1: a leading byte-order
/// mark is dropped, and "\n", "\r\n" or a lone "\r" ends a line. (In Swift "\r\n" is one
/// Character, so splitting on "\n" alone keeps a Windows file's lines together.)
func textLines(_ path: String, limit: Int = maxTextFileBytes) throws -> [(number: Int, text: Substring)] {
    var text = Substring(try readTextFile(path, limit: limit))
    if text.first == "\u{FEFF}" { text.removeFirst() }
    return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
        .enumerated().map { (number: $0.offset + 1, text: $0.element) }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
