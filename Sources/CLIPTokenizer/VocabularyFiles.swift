// Reading vocabulary files without Foundation: the tokenizer is linked into the board runtime,
// where Foundation would add megabytes to a static binary for two small jobs, reading a file
// and parsing `vocab.json` (one JSON object of token -> integer id).

import CLIPSupport

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

    /// `bytes` gunzipped, with errors that name `path` and say what to do.
    static func gunzip(_ bytes: [UInt8], path: String, limit: Int = Gunzip.maxOutputBytes) throws -> [UInt8] {
        do {
            return try Gunzip.decompress(bytes, limit: limit)
        } catch let e as GunzipError {
            let reason: String
            switch e {
            case .zlibInitFailed: reason = "\(e)"
            case .corrupt: reason = "\(e); re-download the vocabulary file"
            case .truncated: reason = "\(e); re-download it"
            case .tooLarge(let limit): reason = "\(e) (\(limit >> 20) MB); not a vocabulary file"
            }
            throw TokenizerError.unreadableFile(path: path, reason: reason)
        }
    }

    /// Parses a JSON object whose values are integers (`{"a": 0, "b</w>": 256, ...}`).
    static func parseVocabulary(_ bytes: [UInt8], source: String) throws -> [String: Int32] {
        var p = VocabularyScanner(bytes: bytes, source: source)
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

/// `vocab.json` read with the project's JSON reader (CLIPSupport), member by member, without
/// building a tree of its 49k entries: keys are JSON strings, values integer ids.
struct VocabularyScanner {
    var json: JSONReader
    let source: String

    init(bytes: [UInt8], source: String) {
        json = JSONReader(bytes: bytes)
        self.source = source
    }

    var index: Int {
        get { json.offset }
        set { json.offset = newValue }
    }

    func peek() -> UInt8? { json.peek() }

    func error(_ expected: String) -> TokenizerError {
        let found = index < json.bytes.count ? "'\(Unicode.Scalar(json.bytes[index]))'" : "the end of the file"
        return .malformedVocabulary(
            source: source, reason: "expected \(expected) at byte \(index), found \(found); is this an HF vocab.json?")
    }

    mutating func skipSpace() { json.skipWhitespace() }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        guard peek() == c else { throw error(what) }
        index += 1
    }

    /// An id: digits with an optional minus, that fit in 32 bits (no fraction, no exponent).
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
        if json.bytes[start] == UInt8(ascii: "-") { value = -value }
        guard let id = Int32(exactly: value) else { throw error("an id that fits in 32 bits") }
        return id
    }

    /// A token: a JSON string with every escape.
    mutating func string() throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw error("a quoted token") }
        do {
            return try json.string()
        } catch let e as JSONError {
            throw TokenizerError.malformedVocabulary(source: source, reason: "\(e); is this an HF vocab.json?")
        }
    }
}
