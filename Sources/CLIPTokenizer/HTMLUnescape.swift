// HTML character references, two flavours, both over arrays of scalars:
//
// - `pythonUnescape`: Python 3.11's `html.unescape` (which open_clip applies twice). It follows
//   the HTML5 rules: named references with or without `;` (the longest known prefix of an unknown
//   name is decoded, `&notit;` -> "¬it;"), decimal and hex references, the Windows-1252 remapping
//   of 0x80-0x9F, U+FFFD for 0, surrogates and values past U+10FFFF, and nothing for the other
//   control/noncharacter code points.
// - `ftfyUnescape`: ftfy's stricter `unescape_html`: only `&name;` / `&#...;` with the `;`,
//   1-24 ASCII alphanumerics, plus ftfy's all-caps names (`&EACUTE;`).
//
// The entity names come from Python's `html.entities.html5` via tools/goldens/gen-html-entities.py.

enum HTMLUnescape {
    /// `html.entities.html5`: name (with `;` where the standard has it) -> replacement.
    static let html5: [String: [Unicode.Scalar]] = parseTable(html5EntityTable)
    /// ftfy's extra all-caps names, with `;`.
    static let ftfyUppercase: [String: [Unicode.Scalar]] = parseTable(ftfyUppercaseEntityTable)

    private static func parseTable(_ table: String) -> [String: [Unicode.Scalar]] {
        var map: [String: [Unicode.Scalar]] = [:]
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            guard fields.count == 2 else { continue }
            map[String(fields[0])] = fields[1].split(separator: " ").compactMap {
                UInt32($0, radix: 16).flatMap(Unicode.Scalar.init)
            }
        }
        return map
    }

    static func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 0x30 && s.value <= 0x39 }
    static func isASCIIHexDigit(_ s: Unicode.Scalar) -> Bool {
        isASCIIDigit(s) || (s.value | 0x20) >= 0x61 && (s.value | 0x20) <= 0x66
    }
    static func isASCIIAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        isASCIIDigit(s) || (s.value | 0x20) >= 0x61 && (s.value | 0x20) <= 0x7A
    }

    /// Python's `html.unescape`.
    static func pythonUnescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == "&", let (replacement, end) = charref(s, from: i + 1) {
                out.append(contentsOf: replacement)
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// Matches `#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?` at `j` and decodes it;
    /// returns the replacement and the index after the match.
    private static func charref(_ s: [Unicode.Scalar], from j: Int) -> ([Unicode.Scalar], Int)? {
        let n = s.count
        guard j < n else { return nil }
        if s[j] == "#" {
            var k = j + 1
            var radix: UInt32 = 10
            if k < n && (s[k] == "x" || s[k] == "X") && k + 1 < n && isASCIIHexDigit(s[k + 1]) {
                radix = 16
                k += 1
            } else if !(k < n && isASCIIDigit(s[k])) {
                return nil
            }
            // Values past U+10FFFF all decode to U+FFFD; saturate instead of overflowing.
            var value: UInt32 = 0
            while k < n && (radix == 16 ? isASCIIHexDigit(s[k]) : isASCIIDigit(s[k])) {
                let d = s[k].value <= 0x39 ? s[k].value - 0x30 : (s[k].value | 0x20) - 0x61 + 10
                value = min(value * radix + d, 0x110000)
                k += 1
            }
            if k < n && s[k] == ";" { k += 1 }
            return (numericReference(value), k)
        }
        var k = j
        while k < n && k - j < 32 && !isNameStop(s[k]) { k += 1 }
        guard k > j else { return nil }
        if k < n && s[k] == ";" { k += 1 }
        let name = s[j..<k]
        if let value = html5[String(String.UnicodeScalarView(name))] { return (value, k) }
        // The longest prefix (at least 2 scalars) that is a known name; the rest stays literal.
        var x = name.count - 1
        while x >= 2 {
            if let value = html5[String(String.UnicodeScalarView(name.prefix(x)))] {
                return (value + name.dropFirst(x), k)
            }
            x -= 1
        }
        return (["&"] + name, k)
    }

    private static func isNameStop(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": return true
        default: return false
        }
    }

    /// `_replace_charref` for a numeric reference.
    static func numericReference(_ value: UInt32) -> [Unicode.Scalar] {
        switch value {
        case 0x00: return ["\u{FFFD}"]
        case 0x0D: return ["\r"]
        case 0x80...0x9F: return TextCleaner.c1Map[Int(value - 0x80)]
        case 0xD800...0xDFFF, 0x110000...: return ["\u{FFFD}"]
        case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0xFDD0...0xFDEF: return []
        default:
            if value & 0xFFFE == 0xFFFE { return [] }  // U+xFFFE / U+xFFFF of every plane
            return [Unicode.Scalar(value)!]
        }
    }

    /// ftfy's `unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced when it is a known entity.
    static func ftfyUnescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        let n = s.count
        while i < n {
            guard s[i] == "&" else {
                out.append(s[i])
                i += 1
                continue
            }
            // With `#`, then (backtracking) without it; a `#` can never start the alphanumerics.
            let start = i + 1 < n && s[i + 1] == "#" ? i + 2 : i + 1
            var k = start
            while k < n && k - start < 25 && isASCIIAlphanumeric(s[k]) { k += 1 }
            guard k > start, k - start <= 24, k < n, s[k] == ";" else {
                out.append("&")
                i += 1
                continue
            }
            let match = Array(s[i...k])
            let name = String(String.UnicodeScalarView(s[(i + 1)...k]))
            if start == i + 1, let value = html5[name] ?? ftfyUppercase[name] {
                out.append(contentsOf: value)
            } else if start == i + 2 {
                // Numeric: kept only when `html.unescape` consumed the whole reference.
                let decoded = pythonUnescape(match)
                out.append(contentsOf: decoded.contains(";") ? match : decoded)
            } else {
                out.append(contentsOf: match)
            }
            i = k + 1
        }
        return out
    }
}
