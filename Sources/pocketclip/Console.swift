// The console: what every command shares for talking to the user — one line on stderr and a
// non-zero exit for any error (and for output that could not be written), JSON and CSV pieces,
// progress and human-readable numbers, and reading the text inputs (label, template and file
// lists: line endings, BOMs, stdin).

import ArgumentParser
import CLIPConvert
import CLIPFormat
import CLIPKernels
import CLIPRuntime
import CLIPSupport

// MARK: - Errors and exit status

/// Runs `body`, turning any error into one line on stderr and exit status 1. What `body` printed
/// must have reached stdout: a write that failed (a full disk, /dev/full) is such an error too,
/// so a half-written JSON or CSV never exits 0.
/// A body that ends with an exit status of its own (3: some images failed) has its output
/// checked the same way, and a failed write wins.
func reportingErrors(_ body: () throws -> Void) throws {
    var status: ExitCode?
    do {
        do { try body() } catch let e as ExitCode { status = e }
        if fflush(stdout) != 0 || ferror(stdout) != 0 {
            throw OutputError(reason: String(cString: strerror(errno)))
        }
    } catch {
        writeStderr("error: \(error)\n")
        throw ExitCode.failure
    }
    if let status { throw status }
}

/// Exit status 3: with `--keep-going`, some images could not be used (each named on stderr); the
/// output holds all the others. 1 stays "the run failed", 64 "the arguments are wrong".
let someImagesFailed = ExitCode(3)

/// `--keep-going`, shared by the commands that read many images.
struct KeepGoingOption: ParsableArguments {
    @Flag(help: ArgumentHelp(
        "Skip images that cannot be read or decoded instead of stopping at the first; exit 3 if any was skipped.",
        discussion: """
            Each skipped image is one line on stderr, "error: cannot use image 'PATH': REASON", \
            PATH exactly as given; the end of the run says "N of M images; K failed" on stderr. \
            Without it, the first such image stops the run with that line and exit 1, and what \
            was printed before stays a complete document (a JSON array closed, whole CSV rows).
            """))
    var keepGoing = false
}

/// The images of one run that could not be used. With `--keep-going` each is reported on stderr
/// as it fails and the run goes on; without, the first one's error stops the run.
final class ImageFailures {
    let keepGoing: Bool
    private(set) var failed: [(path: String, reason: String)] = []

    init(keepGoing: Bool) { self.keepGoing = keepGoing }

    /// `body`'s result, or nil when it failed on the image (`ModelError.badImage`) and the run
    /// keeps going. Any other error, and any error without `--keep-going`, is thrown; a bad
    /// image is recorded first, so a JSON output can still list it.
    func attempt<T>(_ body: () throws -> T) throws -> T? {
        do { return try body() } catch let error as ModelError {
            guard case let .badImage(path, reason) = error else { throw error }
            record(path: path, reason: reason)
            if keepGoing { return nil }
            throw error
        }
    }

    /// Records an image that failed; reported at once with `--keep-going` (without it, the
    /// caller's thrown error is the report).
    func record(path: String, reason: String) {
        failed.append((path, reason))
        if keepGoing { writeStderr("error: \(ModelError.badImage(path: path, reason: reason))\n") }
    }

    /// The summary line on stderr ("classified 98 of 100 images; 2 failed") and exit status 3 if
    /// any image failed; silent on a run without `--keep-going` that had no failure.
    func finish(_ verb: String, total: Int) throws {
        guard keepGoing || !failed.isEmpty else { return }
        let done = total - failed.count
        writeStderr("\(verb) \(done) of \(total) \(plural(total, "image"))\(failed.isEmpty ? "" : "; \(failed.count) failed")\n")
        if !failed.isEmpty { throw someImagesFailed }
    }

    /// `"errors": [{"image": …, "error": …}, …]` for a JSON document.
    var jsonMember: String {
        let items = failed.map { "{\"image\": \(jsonQuoted($0.path)), \"error\": \(jsonQuoted($0.reason))}" }
        return "\"errors\": [\(items.joined(separator: ",\n  "))]"
    }
}

/// The noun for `n` things: plural(1, "image") → "image", plural(2, "image") → "images",
/// plural(2, "class", "classes") → "classes".
func plural(_ n: Int, _ noun: String, _ plural: String? = nil) -> String { n == 1 ? noun : plural ?? noun + "s" }

/// Standard output could not be written.
struct OutputError: Error, CustomStringConvertible {
    let reason: String
    var description: String { "cannot write the output to stdout: \(reason) (a full disk or a closed file?); what was written is incomplete" }
}

// MARK: - CSV

func csvRow(_ fields: [String]) -> String { fields.map(csvField).joined(separator: ",") }

func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
}

extension String {
    /// Every occurrence of `target` replaced (without Foundation).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

// MARK: - Progress and numbers

/// A one-line progress bar on stderr when it is a terminal; silent when piped.
final class ProgressBar {
    let label: String
    let enabled = isatty(STDERR_FILENO) == 1
    private var lastDrawn = -1

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int, _ item: String) {
        guard enabled, total > 0 else { return }
        let percent = done * 100 / total
        guard percent != lastDrawn || done == total else { return }
        lastDrawn = percent
        let width = 30, filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        writeStderr("\r\(label) [\(bar)] \(percent)% \(done)/\(total) \(item.prefix(40))\u{1B}[K")
    }

    func finish() { if enabled { writeStderr("\r\u{1B}[K") } }
}

func formatBytes(_ n: Int) -> String {
    let mb = Double(n) / 1_000_000
    if mb >= 10 { return "\(Int(mb.rounded())) MB" }
    if mb >= 0.01 { return "\(Double(Int(mb * 100)) / 100) MB" }
    return "\(n) B"
}

/// `x` cut (not rounded) to two decimals, trailing zeros dropped: 1.2345 → "1.23", 2.0 → "2.0".
private func hundredths(_ x: Double) -> String { "\(Double(Int(x * 100)) / 100)" }

func formatRatio(_ a: Int, _ b: Int) -> String { hundredths(Double(a) / Double(max(1, b))) + "×" }

func formatSeconds(_ s: Double) -> String { hundredths(s) + " s" }

func formatMs(_ ms: Double) -> String { hundredths(ms) + " ms" }

func say(_ line: String) {
    let s = line + "\n"
    _ = s.withCString { fputs($0, stdout) }
    fflush(stdout)
}

func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(pad2((s % 3600) / 60))m" : s >= 60 ? "\(s / 60)m\(pad2(s % 60))s" : "\(s)s"
}

private func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }

func padLeft(_ s: String, _ width: Int) -> String { s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s }

// MARK: - Files

/// A .pclip container for `inspect` and `verify`: a file that is not one is named, with what it
/// looks like (an image, an index, a damaged .pclip), instead of the reader's bare "not a .pclip".
func openPclip(_ path: String) throws -> PclipFile {
    do { return try PclipFile(path: path) } catch PclipError.badMagic {
        let what = CLIPModel.describeNonModel(path) ?? "it does not start with the .pclip magic 89 50 43 4C 49 50 0D 0A"
        throw CLIError("'\(path)' is not a .pclip file: \(what)")
    } catch let error as PclipError {
        throw CLIError("'\(path)': \(error)")  // the reader's messages do not name the file
    }
}

func makeDirectory(_ path: String) throws {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw CLIError("cannot create directory \(path): \(String(cString: strerror(errno)))")
    }
}

// MARK: - Text inputs and limits

/// Floats in Swift's shortest form that reads back to the same Float; non-finite → null.
func jsonArray(_ v: [Float]) -> String { "[" + v.map(jsonNumber).joined(separator: ", ") + "]" }

/// Fails at once with the writer's one-line error ("cannot write 'PATH': Read-only file system")
/// when `path` cannot be created — read-only target, missing directory, no permission — rather
/// than after the minutes of work whose result it was to hold. Leaves nothing behind.
func checkWritable(_ path: String) throws { try AtomicFileWriter(path: path).abort() }

/// Largest labels or templates file read (`--labels-file`, `--templates-file`): 100,000 labels
/// (PromptTemplates.maxLabels) of up to ~160 bytes each.
let maxTextFileBytes = 16 << 20

/// A UTF-8 text file (labels lists, image lists), bounded in size. "-" reads standard input; a
/// pipe or terminal (`/dev/stdin`, a shell's `<(command)`) is read to its end like it.
func readTextFile(_ path: String, limit: Int = maxTextFileBytes) throws -> String {
    let bytes: [UInt8]
    if path == "-" {
        bytes = try readToEnd(STDIN_FILENO, name: "standard input", limit: limit)
    } else if isStream(path) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        bytes = try readToEnd(fd, name: path, limit: limit)
    } else {
        bytes = try ReadOnlyFile(path: path).readAll(limit: limit)
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// True for a pipe, socket or character device: something read to its end, with no size to check first.
private func isStream(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    let type = st.st_mode & S_IFMT
    return type == S_IFIFO || type == S_IFCHR || type == S_IFSOCK
}

/// `--threads` as given: at least 1, at most `WorkerPool.maxThreads` (4 × the cores this process
/// may use, 256 at most).
func checkThreads(_ threads: Int?) throws {
    guard let threads else { return }
    guard (1...WorkerPool.maxThreads).contains(threads) else {
        throw ValidationError("--threads must be in 1...\(WorkerPool.maxThreads) (4 × the \(WorkerPool.availableCores) cores this process may use, 256 at most), got \(threads)")
    }
}

/// An open descriptor to its end, refused past `limit` bytes.
private func readToEnd(_ fd: Int32, name: String, limit: Int) throws -> [UInt8] {
    var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw FileError.readFailed(path: name, reason: String(cString: strerror(errno))) }
        if n == 0 { return bytes }
        bytes += chunk[0..<n]
        if bytes.count > limit {
            throw FileError.readFailed(path: name, reason: "more than the \(limit) bytes allowed for it")
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

/// A command that cannot go on (a missing tower, a file in the way, data that does not fit):
/// one line on stderr through `reportingErrors`. Argument mistakes stay ArgumentParser's
/// `ValidationError`, thrown from `validate()`.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
