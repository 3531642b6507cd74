// The CLIP pre-tokenizer, written out by hand: `regex.findall` of open_clip's pattern
//
//     <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// compiled with `regex.IGNORECASE`. At each position the branches are tried in that order; when
// none matches (whitespace) the scan moves on by one scalar. Each digit is its own piece; a run of
// punctuation/symbols is greedy (so "!'s" gives "!'" then "s").
//
// Details that come from the reference rather than from the pattern's plain reading:
// - open_clip 3.x names its specials `<start_of_text>` / `<end_of_text>` (not `<|startoftext|>`);
//   typing one in a prompt yields the special id.
// - IGNORECASE uses simple case folding, so U+017F LATIN SMALL LETTER LONG S matches `s`
//   (`'ſ` is a contraction piece) and U+212A KELVIN SIGN matches `k`. Text is lowercased first,
//   so other uppercase letters never reach this point.
// - `\p{L}` / `\p{N}` follow the `regex` module's Unicode version, which can be newer than Swift's:
//   the letters/numbers Swift does not know yet come from `referenceNewer*Ranges`.
// - U+0345 matches no branch (see `referencePreTokenizerSkippedRanges`) and is dropped.

/// One piece of the pre-tokenized text.
enum Piece: Equatable {
    case startOfText
    case endOfText
    /// Scalars `range` of the input, to be byte-pair encoded.
    case text(Range<Int>)
}

enum ScalarClass {
    case letter, number, space, other, skipped
}

enum PreTokenizer {
    /// The branch a single scalar belongs to.
    static func classify(_ s: Unicode.Scalar) -> ScalarClass {
        let v = s.value
        if v < 0x80 {
            // ASCII fast path.
            if (v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A { return .letter }
            if v >= 0x30 && v <= 0x39 { return .number }
            if v == 0x20 || (v >= 0x09 && v <= 0x0D) { return .space }
            return .other
        }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            break
        }
        // `\s` of the regex module is the White_Space property (checked over all scalars).
        if s.properties.isWhitespace { return .space }
        if contains(referenceNewerLetterRanges, v) { return .letter }
        if contains(referenceNewerNumberRanges, v) { return .number }
        if contains(referencePreTokenizerSkippedRanges, v) { return .skipped }
        return .other
    }

    static func contains(_ ranges: [ClosedRange<UInt32>], _ v: UInt32) -> Bool {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < v { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(v)
    }

    /// Case-insensitive match of one pattern character (ASCII) as the `regex` module does it.
    @inline(__always)
    static func matches(_ s: Unicode.Scalar, _ ascii: UInt8) -> Bool {
        let v = s.value
        if v == UInt32(ascii) { return true }
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"):
            if v == UInt32(ascii) - 0x20 { return true }
            if ascii == UInt8(ascii: "s") { return v == 0x17F }
            if ascii == UInt8(ascii: "k") { return v == 0x212A }
            if ascii == UInt8(ascii: "i") { return v == 0x130 }
            return false
        default:
            return false
        }
    }

    /// Length of the match of the literal `word` at `i`, or 0.
    static func literal(_ text: [Unicode.Scalar], _ i: Int, _ word: StaticString) -> Int {
        let n = word.utf8CodeUnitCount
        guard i + n <= text.count else { return 0 }
        return word.withUTF8Buffer { w in
            for k in 0..<n where !matches(text[i + k], w[k]) { return 0 }
            return n
        }
    }

    static let startOfText: StaticString = "<start_of_text>"
    static let endOfText: StaticString = "<end_of_text>"
    /// The contraction branches in pattern order.
    static let contractions: [StaticString] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]

    /// `regex.findall` of the CLIP pattern over `text`.
    static func split(_ text: [Unicode.Scalar]) -> [Piece] {
        var pieces: [Piece] = []
        let n = text.count
        var i = 0
        while i < n {
            let c = text[i]
            if c == "<" {
                // A special matched through case folding (`<ſtart_of_text>`) is an ordinary piece,
                // as in open_clip, whose special-token shortcut is an exact-string cache entry.
                var len = literal(text, i, startOfText)
                if len > 0 {
                    let exact = text[i..<(i + len)].elementsEqual("<start_of_text>".unicodeScalars)
                    pieces.append(exact ? .startOfText : .text(i..<(i + len)))
                    i += len
                    continue
                }
                len = literal(text, i, endOfText)
                if len > 0 {
                    let exact = text[i..<(i + len)].elementsEqual("<end_of_text>".unicodeScalars)
                    pieces.append(exact ? .endOfText : .text(i..<(i + len)))
                    i += len
                    continue
                }
            } else if c == "'" {
                var matched = 0
                for word in contractions {
                    matched = literal(text, i, word)
                    if matched > 0 { break }
                }
                if matched > 0 {
                    pieces.append(.text(i..<(i + matched)))
                    i += matched
                    continue
                }
            }
            switch classify(c) {
            case .letter:
                var j = i + 1
                while j < n && classify(text[j]) == .letter { j += 1 }
                pieces.append(.text(i..<j))
                i = j
            case .number:
                pieces.append(.text(i..<(i + 1)))
                i += 1
            case .other:
                var j = i + 1
                while j < n && classify(text[j]) == .other { j += 1 }
                pieces.append(.text(i..<j))
                i = j
            case .space, .skipped:
                i += 1
            }
        }
        return pieces
    }
}
