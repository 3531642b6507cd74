#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Reading vocabulary files without Foundation: the tokenizer is linked into the board runtime,
// where Foundation would add megabytes to a static binary for two small jobs, reading a file
// and parsing `vocab.json` (one JSON object of token -> integer id).

enum VocabularyFiles {
    /// Largest vocabulary file read whole. CLIP's files are 1.4 MB (.gz), 0.9 MB (vocab.json) and
    /// 0.5 MB (merges.txt); 512 MB rejects wrong paths (a model file) before reading them.
    static let maxFileBytes = 512 << 20

    /// Refuses a file larger than `maxFileBytes` before anything is read or allocated.
    static func checkSize(_ size: Int, path: String, expected: String) throws {
        guard size <= maxFileBytes else {
            throw TokenizerError.unreadableFile(
                path: path, reason: "\(size) bytes, more than \(maxFileBytes >> 20) MB; expected \(expected)")
        }
    }

    /// The whole file; `expected` says what the file should have been, for the error message.
    static func readWholeFile(_ path: String, expected: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw TokenizerError.fileNotFound(path: path, expected: expected)
            }
            throw TokenizerError.unreadableFile(path: path, reason: String(cString: strerror(err)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw TokenizerError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw TokenizerError.unreadableFile(path: path, reason: "not a regular file; expected \(expected)")
        }
        let size = Int(info.st_size)
        try checkSize(size, path: path, expected: expected)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw TokenizerError.unreadableFile(
                    path: path, reason: n == 0 ? "file shrank while reading" : String(cString: strerror(errno)))
            }
            done += n
        }
        return bytes
    }

    /// Parses a JSON object whose values are integers (`{"a": 0, "b</w>": 256, ...}`).
    static func parseVocabulary(_ bytes: [UInt8], source: String) throws -> [String: Int32] {
        var p = JSONScanner(bytes: bytes, source: source)
        var map: [String: Int32] = [:]
        p.skipSpace()
        try p.expect(UInt8(ascii: "{"), "a JSON object of token -> id")
        p.skipSpace()
        if p.peek() == UInt8(ascii: "}") {
            p.index += 1
        } else {
            while true {
                p.skipSpace()
                let key = try p.string()
                p.skipSpace()
                try p.expect(UInt8(ascii: ":"), "':' after a token")
                p.skipSpace()
                map[key] = try p.integer()
                p.skipSpace()
                if p.peek() == UInt8(ascii: ",") {
                    p.index += 1
                    continue
                }
                try p.expect(UInt8(ascii: "}"), "',' or '}'")
                break
            }
        }
        p.skipSpace()
        guard p.index == bytes.count else { throw p.error("nothing after the object") }
        return map
    }
}

/// Just enough JSON for `vocab.json`: strings with every escape, integer values.
struct JSONScanner {
    let bytes: [UInt8]
    let source: String
    var index = 0

    init(bytes: [UInt8], source: String) {
        self.bytes = bytes
        self.source = source
    }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    func error(_ expected: String) -> TokenizerError {
        let found = index < bytes.count ? "'\(Unicode.Scalar(bytes[index]))'" : "the end of the file"
        return .malformedVocabulary(
            source: source, reason: "expected \(expected) at byte \(index), found \(found); is this an HF vocab.json?")
    }

    mutating func skipSpace() {
        while let c = peek(), c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 }
    }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        guard peek() == c else { throw error(what) }
        index += 1
    }

    mutating func integer() throws -> Int32 {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        var value: Int64 = 0
        var digits = 0
        while let c = peek(), c >= 0x30 && c <= 0x39 {
            value = value * 10 + Int64(c - 0x30)
            guard value <= Int64(Int32.max) + 1 else { throw error("an id that fits in 32 bits") }
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw error("an integer id") }
        if bytes[start] == UInt8(ascii: "-") { value = -value }
        guard let id = Int32(exactly: value) else { throw error("an id that fits in 32 bits") }
        return id
    }

    mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("four hex digits after \\u") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("four hex digits after \\u")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""), "a quoted token")
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("a closing quote") }
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw error("UTF-8 text in a token") }
                return s
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw error("an escape") }
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if v >= 0xD800 && v < 0xDC00 {
                        // A UTF-16 surrogate pair spells one scalar above U+FFFF.
                        guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u")
                        else { throw error("a low surrogate after a high one") }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw error("a low surrogate after a high one") }
                        v = 0x10000 + (v - 0xD800) << 10 + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(v) else { throw error("a valid \\u escape (not a lone surrogate)") }
                    out.append(contentsOf: UTF8.encode(scalar)!)
                default:
                    index -= 1
                    throw error("a JSON escape")
                }
            case 0x00..<0x20:
                index -= 1
                throw error("no raw control characters in a string")
            default:
                out.append(c)
            }
        }
    }
}
