// open_clip's default text cleaning (`clean="lower"`, `_clean_lower`):
//
//     ftfy.fix_text -> html.unescape(html.unescape(.)) -> strip -> " ".join(split()) -> lower()
//
// `ftfy.fix_text` (6.3.1, default config) is ported for well-formed text: per line (and at most
// 1,000,000 scalars per segment) it repeats, until nothing changes: HTML entities (`unescape_html`,
// switched off for this and every later line once a line contains `<`), C1 controls read as
// Windows-1252, Latin ligatures split, full-width/half-width forms to normal width, curly quotes
// straightened, line breaks to `\n`, ANSI terminal escapes removed, invisible control characters
// removed, NFC.
//
// NOT ported: ftfy's mojibake repair (`fix_encoding`: re-decoding text such as "Ã©" that was
// UTF-8 read as Latin-1/Windows-125x/MacRoman, `restore_byte_a0`, `replace_lossy_sequences`,
// `decode_inconsistent_utf8`). It is a heuristic ("is this text bad?") over a large table; on
// text that was not mangled it does nothing. Lone UTF-16 surrogates (`fix_surrogates`) cannot
// occur in a Swift `String`.
//
// Unicode versions: Python 3.11's `unicodedata` is Unicode 14; Swift 6.3's data is newer. For the
// steps Python does with its own data (NFC, `lower`, `\d` in terminal escapes), scalars assigned
// after 14.0 are treated as Python treats them: unassigned (no case mapping, no normalization,
// a barrier for composition).

enum TextCleaner {
    /// ftfy processes at most this many scalars per segment (`max_decode_length`).
    static let maxSegmentLength = 1_000_000

    /// The whole cleaning step.
    static func clean(_ text: String) -> String {
        var s = Array(text.unicodeScalars)
        s = fixText(s)
        s = HTMLUnescape.pythonUnescape(HTMLUnescape.pythonUnescape(s))
        s = collapseWhitespace(s)
        s = pythonLower(s)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: s)
        return String(view)
    }

    // MARK: - ftfy.fix_text

    static func fixText(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Printable ASCII without `&` (plus tab, newline, form feed) is left alone by every fixer.
        if s.allSatisfy({ ($0.value >= 0x20 && $0.value < 0x7F && $0 != "&") || $0 == "\n" || $0 == "\t" || $0 == "\u{0C}" }) {
            return s
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var unescapeHTML = true
        var pos = 0
        while pos < s.count {
            var end = s[pos...].firstIndex(of: "\n").map { $0 + 1 } ?? s.count
            end = min(end, pos + maxSegmentLength)
            let segment = Array(s[pos..<end])
            // ftfy's "auto": a line with `<` looks like HTML, so entities are kept from here on.
            if unescapeHTML && segment.contains("<") { unescapeHTML = false }
            out.append(contentsOf: fixSegment(segment, unescapeHTML: unescapeHTML))
            pos = end
        }
        return out
    }

    /// `ftfy.fix_and_explain` on one segment: apply the fixers until a fixed point.
    static func fixSegment(_ segment: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var text = segment
        while true {
            let original = text
            if unescapeHTML { text = HTMLUnescape.ftfyUnescape(text) }
            text = translate(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = text.filter { !isRemovedControl($0) }
            text = nfc(text)
            if text == original { return text }
        }
    }

    /// `fix_c1_controls`, `fix_latin_ligatures`, `fix_character_width` and `uncurl_quotes`, in that
    /// order. Each maps single scalars, so they compose scalar by scalar in one pass.
    static func translate(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for c in s {
            if c.value < 0x80 {
                out.append(c)
                continue
            }
            let afterC1 = c.value <= 0x9F ? c1Map[Int(c.value - 0x80)] : [c]
            for a in afterC1 {
                for b in ligatureMap[a.value] ?? [a] {
                    for w in widthMap[b.value] ?? [b] {
                        out.append(uncurl(w))
                    }
                }
            }
        }
        return out
    }

    static let c1Map: [[Unicode.Scalar]] = ftfyC1Map.map { Array($0.1.unicodeScalars) }
    static let ligatureMap: [UInt32: [Unicode.Scalar]] = Dictionary(
        uniqueKeysWithValues: ftfyLigatureMap.map { ($0.0, Array($0.1.unicodeScalars)) })
    static let widthMap: [UInt32: [Unicode.Scalar]] = Dictionary(
        uniqueKeysWithValues: ftfyWidthMap.map { ($0.0, Array($0.1.unicodeScalars)) })

    /// `uncurl_quotes`: U+02BC and U+2018-U+201B -> `'`, U+201C-U+201F -> `"`.
    @inline(__always)
    static func uncurl(_ c: Unicode.Scalar) -> Unicode.Scalar {
        switch c.value {
        case 0x02BC, 0x2018...0x201B: return "'"
        case 0x201C...0x201F: return "\""
        default: return c
        }
    }

    /// `fix_line_breaks`: CRLF, CR, U+2028, U+2029, U+0085 -> LF.
    static func fixLineBreaks(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            switch s[i] {
            case "\r":
                out.append("\n")
                if i + 1 < s.count && s[i + 1] == "\n" { i += 1 }
            case "\u{2028}", "\u{2029}", "\u{85}":
                out.append("\n")
            default:
                out.append(s[i])
            }
            i += 1
        }
        return out
    }

    /// `remove_terminal_escapes`: `ESC [ (\d|;)* [A-Za-z]` removed; `\d` is any decimal digit.
    static func removeTerminalEscapes(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("\u{1B}") else { return s }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < s.count {
            if s[i] == "\u{1B}" && i + 1 < s.count && s[i + 1] == "[" {
                var k = i + 2
                while k < s.count && (s[k] == ";" || isPythonDecimalDigit(s[k])) { k += 1 }
                if k < s.count && s[k].isASCII && (s[k].value | 0x20) >= 0x61 && (s[k].value | 0x20) <= 0x7A {
                    i = k + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// `remove_control_chars`: C0 controls other than tab/LF/FF/CR, DEL, U+206A-U+206F, BOM,
    /// U+FFF9-U+FFFC.
    @inline(__always)
    static func isRemovedControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }

    // MARK: - Unicode with Python 3.11's data

    /// The Unicode version of Python 3.11's `unicodedata`, which ftfy's NFC and `str.lower` use.
    static let referenceUnicodeMajor = 14

    /// True for scalars assigned after the reference's Unicode version: Python sees them as
    /// unassigned.
    @inline(__always)
    static func isNewerThanReference(_ c: Unicode.Scalar) -> Bool {
        guard !c.isASCII, let age = c.properties.age else { return false }
        return age.major > referenceUnicodeMajor
    }

    static func isPythonDecimalDigit(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c.value >= 0x30 && c.value <= 0x39 }
        return c.properties.generalCategory == .decimalNumber && !isNewerThanReference(c)
    }

    /// NFC (`unicodedata.normalize("NFC", .)`). Runs of scalars that Python knows are normalized
    /// by the standard library; a scalar newer than Python's data splits the runs, because to
    /// Python it is an unassigned starter that nothing composes or reorders across.
    static func nfc(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Nothing below U+0300 decomposes or composes under NFC.
        if s.allSatisfy({ $0.value < 0x300 }) { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var start = 0
        func flush(_ end: Int) {
            guard start < end else { return }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s[start..<end])
            let bytes = String(view)._nfcCodeUnits
            out.append(contentsOf: String(decoding: bytes, as: UTF8.self).unicodeScalars)
        }
        for (i, c) in s.enumerated() where isNewerThanReference(c) {
            flush(i)
            out.append(c)
            start = i + 1
        }
        flush(s.count)
        return out
    }

    /// Python's `str.isspace`: category Zs or bidirectional class WS, B or S.
    @inline(__always)
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F,
            0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `" ".join(text.split())` (which also strips).
    static func collapseWhitespace(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var pendingSpace = false
        for c in s {
            if isPythonSpace(c) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(c)
            }
        }
        return out
    }

    /// Python's `str.lower`: full lowercase mappings, and U+03A3 becomes final sigma U+03C2 when a
    /// cased letter precedes it and none follows (case-ignorable scalars skipped both ways).
    static func pythonLower(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.isASCII {
                out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 0x20)! : c)
            } else if c.value == 0x3A3 {
                out.append(isFinalSigma(s, i) ? "\u{3C2}" : "\u{3C3}")
            } else if isNewerThanReference(c) {
                out.append(c)
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    static func isCased(_ c: Unicode.Scalar) -> Bool {
        c.properties.isCased && !isNewerThanReference(c)
    }

    static func isCaseIgnorable(_ c: Unicode.Scalar) -> Bool {
        c.properties.isCaseIgnorable && !isNewerThanReference(c)
    }

    /// CPython's `handle_capital_sigma`.
    static func isFinalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && isCaseIgnorable(s[j]) { j -= 1 }
        guard j >= 0 && isCased(s[j]) else { return false }
        j = i + 1
        while j < s.count && isCaseIgnorable(s[j]) { j += 1 }
        return j == s.count || !isCased(s[j])
    }
}
