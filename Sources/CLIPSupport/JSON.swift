// The project's one JSON parser: checkpoint headers and configs, .pclip metadata, captions
// files, and (through `JSONReader`'s pieces, without building a tree) the tokenizer's vocab.json.
//
// Why not Foundation's JSONSerialization: it is not in FoundationEssentials, it accepts
// duplicate keys silently (safetensors forbids them), and it gives no depth limit. This parser
// reads RFC 8259 JSON from bytes, keeps object keys in order, rejects duplicates, and bounds
// nesting so a hostile header cannot exhaust the stack.

/// A parsed JSON value.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Keys in file order; duplicates are rejected by the parser.
    case object([(key: String, value: JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value for `key` in an object, or nil.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var number: Double? { if case .number(let n) = self { return n }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var members: [(key: String, value: JSONValue)]? { if case .object(let m) = self { return m }; return nil }

    /// The number as an exact integer, or nil if it is not one (or does not fit).
    public var int: Int? {
        guard let n = number, n.rounded() == n, abs(n) <= 9_007_199_254_740_992 else { return nil }
        return Int(n)
    }
}

public struct JSONError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public let offset: Int
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// Bounds on what `parseJSON` accepts.
public enum JSONLimits {
    /// Most objects and arrays nested inside one another (`[[1]]` nests 2). Real configs and
    /// safetensors headers nest 3 or 4; the bound keeps a hostile file from exhausting the stack.
    public static let maxDepth = 64
}

/// Parses `bytes` as one JSON value (surrounding whitespace allowed).
public func parseJSON(_ bytes: [UInt8], maxDepth: Int = JSONLimits.maxDepth) throws -> JSONValue {
    var p = JSONReader(bytes: bytes, maxDepth: maxDepth)
    p.skipWhitespace()
    let v = try p.value(depth: 0)
    p.skipWhitespace()
    if p.offset != bytes.count { throw p.error("unexpected data after the value") }
    return v
}

/// The parser `parseJSON` runs, open for readers of one known shape that should not build a
/// tree (the tokenizer's vocab.json walks its 49k members with `skipWhitespace` and `string`).
///
///     var r = JSONReader(bytes: Array(#""a\u00e9""#.utf8))
///     let s = try r.string()   // "aé", r.offset == 9
public struct JSONReader {
    public let bytes: [UInt8]
    public let maxDepth: Int
    /// The next byte to read.
    public var offset = 0

    public init(bytes: [UInt8], maxDepth: Int = JSONLimits.maxDepth) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// The byte at `offset`, or nil at the end.
    public func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    /// An error at the current offset.
    public func error(_ m: String) -> JSONError { JSONError(message: m, offset: offset) }

    /// Skips JSON's four whitespace bytes.
    public mutating func skipWhitespace() {
        while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
    }

    mutating func expect(_ literal: String) throws {
        for b in literal.utf8 {
            guard offset < bytes.count, bytes[offset] == b else { throw error("expected '\(literal)'") }
            offset += 1
        }
    }

    /// One value; `depth` counts the objects and arrays around it (only a container adds a level).
    public mutating func value(depth: Int) throws -> JSONValue {
        guard offset < bytes.count else { throw error("unexpected end of input") }
        if bytes[offset] == UInt8(ascii: "{") || bytes[offset] == UInt8(ascii: "[") {
            guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth) objects and arrays") }
        }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default: return .number(try number())
        }
    }

    mutating func object(depth: Int) throws -> JSONValue {
        offset += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            guard seen.insert(key).inserted else { throw error("duplicate key '\(key)'") }
            skipWhitespace()
            try expect(":")
            skipWhitespace()
            members.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            guard offset < bytes.count else { throw error("unterminated object") }
            if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
            if bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        offset += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard offset < bytes.count else { throw error("unterminated array") }
            if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
            if bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[offset]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("bad hex digit in \\u escape")
            }
            v = v << 4 | d
            offset += 1
        }
        return v
    }

    /// A string literal starting at `offset` (which must be at its opening quote), unescaped.
    public mutating func string() throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string") }
        offset += 1
        var out: [UInt8] = []
        while true {
            guard offset < bytes.count else { throw error("unterminated string") }
            let c = bytes[offset]
            if c == UInt8(ascii: "\"") { offset += 1; break }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); offset += 1; continue }
            offset += 1
            guard offset < bytes.count else { throw error("unterminated escape") }
            let e = bytes[offset]
            offset += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard offset + 6 <= bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    offset += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("bad low surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("unpaired low surrogate")
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default: throw error("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8") }
        return s
    }

    mutating func number() throws -> Double {
        let start = offset
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        func digits() -> Int {
            let s = offset
            while offset < bytes.count, (0x30...0x39).contains(bytes[offset]) { offset += 1 }
            return offset - s
        }
        let intStart = offset
        guard digits() > 0 else { throw error("expected a value") }
        if bytes[intStart] == 0x30 && offset - intStart > 1 { throw error("leading zero in number") }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits() > 0 else { throw error("expected digits after '.'") }
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard digits() > 0 else { throw error("expected exponent digits") }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard let v = Double(text) else { throw error("bad number '\(text)'") }
        return v
    }
}
