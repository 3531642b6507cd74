// CLIPTokenizer: text -> token ids, exactly as open_clip 3.3's `SimpleTokenizer` /
// `open_clip.tokenize` (which follows OpenAI CLIP's tokenizer).
//
// Pipeline (one file per step):
//   TextCleaner     ftfy.fix_text (well-formed-text fixes) -> html.unescape x2 -> whitespace
//                   collapse -> Python lower()
//   PreTokenizer    open_clip's regex, by hand (specials, contractions, letter runs, single
//                   digits, runs of other symbols)
//   BytePairEncoder byte-level BPE with the merge ranks, cached per piece
//   CLIPTokenizer   vocabulary (open_clip's .txt.gz or an HF vocab.json + merges.txt, read by
//                   VocabularyFiles with CLIPSupport's Gunzip and JSONReader, without
//                   Foundation), <start_of_text> 49406 ... <end_of_text> 49407, context 77
//                   with open_clip's truncation
//
// Handles: any valid Unicode text, including HTML entities (the full HTML5 table, numeric,
// without `;`, nested), curly quotes, full-width forms, ligatures, control characters, terminal
// escapes, CJK, emoji and ZWJ sequences, and inputs of any length (no quadratic steps).
// Does NOT handle: ftfy's mojibake repair (text that was UTF-8 decoded as Latin-1 or a Windows
// code page, like "cafÃ©", stays as it is; open_clip would repair it to "café"), lone
// surrogates (impossible in a Swift String), and open_clip's optional `clean="canonicalize"`
// / "whitespace" modes and reduction masks. See docs/tokenizer.md for the measured differences
// from HF transformers' CLIPTokenizer.

import CLIPSupport

/// Errors from loading a vocabulary or tokenizing text.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A vocabulary file does not exist.
    case fileNotFound(path: String, expected: String)
    /// A file exists but cannot be read or decompressed.
    case unreadableFile(path: String, reason: String)
    /// The vocabulary or merges are not in the expected layout.
    case malformedVocabulary(source: String, reason: String)
    /// `[SOT] + tokens + [EOT]` is longer than the context and truncation was not requested.
    case tooLong(tokens: Int, limit: Int)

    public var description: String {
        switch self {
        case let .fileNotFound(path, expected):
            return "tokenizer: no file at \(path); expected \(expected)."
        case let .unreadableFile(path, reason):
            return "tokenizer: cannot read \(path): \(reason)."
        case let .malformedVocabulary(source, reason):
            return "tokenizer: malformed vocabulary in \(source): \(reason)."
        case let .tooLong(tokens, limit):
            return "tokenizer: the text is \(tokens) tokens with start and end markers, more than the "
                + "context of \(limit); shorten it or tokenize with truncation."
        }
    }
}

/// CLIP's byte-level BPE tokenizer, bit-exact with open_clip's `SimpleTokenizer`.
///
/// ```swift
/// let tokenizer = try CLIPTokenizer.load(bpeFile: "bpe_simple_vocab_16e6.txt.gz")
/// let ids = tokenizer.tokenizePadded("a photo of a cat.")  // 77 ids: 49406, 320, 1125, ..., 49407, 0, ...
/// ```
/// Thread safety: share one tokenizer between any number of threads. The only mutable state is
/// the per-piece BPE cache, behind a lock; a piece looked up by two threads at once is merely
/// encoded twice, with the same result.
public final class CLIPTokenizer: Sendable {
    /// Context length of every CLIP text encoder.
    public static let contextLength = 77
    /// Number of merges open_clip reads from its `.txt.gz` (`49152 - 256 - 2`).
    public static let standardMergeCount = 49152 - 256 - 2
    /// Cache entries kept before the cache is emptied, so memory stays bounded on long-running
    /// boards (a piece's ids are a few dozen bytes; 100k entries are a few MB).
    static let maxCacheEntries = 100_000

    /// Id of `<start_of_text>` (49406 for the standard vocabulary).
    public let startOfText: Int32
    /// Id of `<end_of_text>` (49407 for the standard vocabulary).
    public let endOfText: Int32
    /// Number of ids, i.e. rows of the token embedding (49408 for the standard vocabulary).
    public var vocabularySize: Int { tokens.count }

    /// Every token string in id order (what a model file stores to rebuild this tokenizer).
    public var vocabulary: [String] { tokens }

    /// The merge rules `"left right"` in rank order, rebuilt from the merge table (so they are
    /// not kept twice in memory).
    public var mergeRules: [String] {
        encoder.merges.sorted { $0.value.rank < $1.value.rank }.map { key, _ in
            tokens[Int(key >> 32)] + " " + tokens[Int(key & 0xFFFF_FFFF)]
        }
    }

    let encoder: BytePairEncoder
    /// id -> token string (as written in the vocabulary), for `decode`.
    let tokens: [String]
    /// Behind a pthread mutex (Locked.swift) so ThreadSanitizer sees the lock.
    private let cache = Locked<[[UInt8]: [Int32]]>([:])

    /// Builds the vocabulary the way open_clip does from its merges file: the 256 byte symbols,
    /// the same with `</w>`, one token per merge in rank order, then `<start_of_text>` and
    /// `<end_of_text>`.
    /// - Parameter bpeMerges: merge rules `"left right"` in rank order, without the header line.
    public convenience init<S: StringProtocol>(bpeMerges: [S]) throws {
        var tokens = ByteAlphabet.order.map { String(ByteAlphabet.character[Int($0)]) }
        tokens += tokens.map { $0 + "</w>" }
        var rules: [(String, String)] = []
        rules.reserveCapacity(bpeMerges.count)
        for (i, line) in bpeMerges.enumerated() {
            let parts = line.split(whereSeparator: { TextCleaner.isPythonSpace($0.unicodeScalars.first!) })
            guard parts.count == 2 else {
                throw TokenizerError.malformedVocabulary(
                    source: "merge rule \(i + 1)",
                    reason: "expected two symbols separated by a space, found \"\(line.prefix(80))\"")
            }
            rules.append((String(parts[0]), String(parts[1])))
            tokens.append(String(parts[0]) + String(parts[1]))
        }
        tokens += ["<start_of_text>", "<end_of_text>"]
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { vocabulary[token] = Int32(id) }  // later wins, as in Python's dict
        try self.init(vocabulary: vocabulary, rules: rules, tokens: tokens, source: "BPE merges")
    }

    /// Builds the tokenizer from a Hugging Face `vocab.json` mapping and `merges.txt` rules.
    /// - Parameters:
    ///   - vocabulary: token -> id; must hold the 512 byte symbols, every merge result and
    ///     `<|startoftext|>` / `<|endoftext|>` (or open_clip's `<start_of_text>` / `<end_of_text>`).
    ///   - merges: `"left right"` in rank order, without the `#version` header.
    public convenience init(vocabulary: [String: Int32], merges: [String]) throws {
        var rules: [(String, String)] = []
        rules.reserveCapacity(merges.count)
        for (i, line) in merges.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                throw TokenizerError.malformedVocabulary(
                    source: "merges line \(i + 1)",
                    reason: "expected two symbols separated by a space, found \"\(line.prefix(80))\"")
            }
            rules.append((String(parts[0]), String(parts[1])))
        }
        guard let maxID = vocabulary.values.max(), maxID < 1 << 24, vocabulary.values.min()! >= 0 else {
            throw TokenizerError.malformedVocabulary(
                source: "vocab.json", reason: "expected ids from 0 to a few hundred thousand, found "
                    + (vocabulary.isEmpty ? "an empty vocabulary" : "ids outside that range"))
        }
        var tokens = [String](repeating: "", count: Int(maxID) + 1)
        for (token, id) in vocabulary { tokens[Int(id)] = token }
        try self.init(vocabulary: vocabulary, rules: rules, tokens: tokens, source: "vocab.json")
    }

    private init(vocabulary: [String: Int32], rules: [(String, String)], tokens: [String], source: String) throws {
        func id(_ token: String, _ role: String) throws -> Int32 {
            guard let id = vocabulary[token] else {
                throw TokenizerError.malformedVocabulary(
                    source: source, reason: "the \(role) \"\(token)\" has no id; expected a CLIP byte-level BPE vocabulary")
            }
            return id
        }
        var byteID = [Int32](repeating: 0, count: 256)
        var byteEndID = [Int32](repeating: 0, count: 256)
        for b in 0..<256 {
            let symbol = String(ByteAlphabet.character[b])
            byteID[b] = try id(symbol, "byte symbol")
            byteEndID[b] = try id(symbol + "</w>", "byte symbol")
        }
        var merges: [UInt64: BytePairEncoder.Merge] = [:]
        merges.reserveCapacity(rules.count)
        for (rank, (left, right)) in rules.enumerated() {
            let key = BytePairEncoder.key(try id(left, "merge part"), try id(right, "merge part"))
            merges[key] = .init(rank: Int32(rank), merged: try id(left + right, "merge result"))
        }
        let sot = vocabulary["<|startoftext|>"] ?? vocabulary["<start_of_text>"]
        let eot = vocabulary["<|endoftext|>"] ?? vocabulary["<end_of_text>"]
        guard let sot, let eot else {
            throw TokenizerError.malformedVocabulary(
                source: source, reason: "no <|startoftext|> / <|endoftext|> (or <start_of_text> / <end_of_text>) tokens")
        }
        self.startOfText = sot
        self.endOfText = eot
        self.tokens = tokens
        self.encoder = BytePairEncoder(byteID: byteID, byteEndID: byteEndID, merges: merges)
    }

    // MARK: - Loading files

    /// Loads open_clip's merges file (`bpe_simple_vocab_16e6.txt.gz`, gzip or plain text): the
    /// first line is a header, the next 48,894 lines are the merges open_clip uses.
    public static func load(bpeFile path: String) throws -> CLIPTokenizer {
        let bytes = try VocabularyFiles.readWholeFile(path, expected: "open_clip's bpe_simple_vocab_16e6.txt.gz (a merges file)")
        let text = try utf8(Gunzip.isGzip(bytes) ? VocabularyFiles.gunzip(bytes, path: path) : bytes, path: path)
        // The file holds 262k lines; split only the header and the merges open_clip reads.
        let lines = text.split(separator: "\n", maxSplits: standardMergeCount + 1, omittingEmptySubsequences: false)
        guard lines.count >= 2 else {
            throw TokenizerError.malformedVocabulary(
                source: path, reason: "expected a header line followed by merge rules, found \(lines.count) line(s)")
        }
        var merges = lines[1..<min(lines.count, standardMergeCount + 1)]
        while let last = merges.last, last.allSatisfy({ $0.isWhitespace }) { merges.removeLast() }
        return try CLIPTokenizer(bpeMerges: Array(merges))
    }

    /// Loads a Hugging Face tokenizer directory holding `vocab.json` and `merges.txt`.
    public static func load(huggingFaceDirectory path: String) throws -> CLIPTokenizer {
        let vocabPath = path + "/vocab.json"
        let mergesPath = path + "/merges.txt"
        let vocabBytes = try VocabularyFiles.readWholeFile(
            vocabPath, expected: "an HF CLIP tokenizer's vocab.json (token -> id)")
        let mergesText = try utf8(
            VocabularyFiles.readWholeFile(mergesPath, expected: "an HF CLIP tokenizer's merges.txt"), path: mergesPath)
        let vocabulary = try VocabularyFiles.parseVocabulary(vocabBytes, source: vocabPath)
        var merges = mergesText.split(separator: "\n").map { line -> String in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        if let first = merges.first, first.hasPrefix("#version") { merges.removeFirst() }
        merges.removeAll { $0.isEmpty }
        do {
            return try CLIPTokenizer(vocabulary: vocabulary, merges: merges)
        } catch TokenizerError.malformedVocabulary(let source, let reason) {
            throw TokenizerError.malformedVocabulary(source: "\(path) (\(source))", reason: reason)
        }
    }

    static func utf8(_ bytes: [UInt8], path: String) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError.malformedVocabulary(source: path, reason: "the file is not UTF-8 text")
        }
        return text
    }

    // MARK: - Tokenizing

    /// The cleaning step alone: ftfy fixes, HTML unescape (twice), whitespace collapse, lowercase.
    public func clean(_ text: String) -> String {
        TextCleaner.clean(text)
    }

    /// BPE ids of the cleaned text, without start/end markers (open_clip's `encode`).
    public func encode(_ text: String) -> [Int32] {
        let cleaned = Array(clean(text).unicodeScalars)
        var ids: [Int32] = []
        for piece in PreTokenizer.split(cleaned) {
            switch piece {
            case .startOfText: ids.append(startOfText)
            case .endOfText: ids.append(endOfText)
            case .text(let range):
                var bytes: [UInt8] = []
                for s in cleaned[range] { bytes.append(contentsOf: UTF8.encode(s)!) }
                ids.append(contentsOf: bpe(bytes))
            }
        }
        return ids
    }

    /// BPE of one piece, through the cache.
    func bpe(_ bytes: [UInt8]) -> [Int32] {
        if let hit = cache.withLock({ $0[bytes] }) { return hit }
        let ids = encoder.encode(bytes)
        cache.withLock { cache in
            if cache.count >= Self.maxCacheEntries { cache.removeAll(keepingCapacity: true) }
            cache[bytes] = ids
        }
        return ids
    }

    /// `[SOT] + encode(text) + [EOT]`, not padded.
    /// - Parameter truncate: when the result is longer than `context`, `true` keeps the first
    ///   `context` ids and puts EOT in the last slot (open_clip); `false` throws `tooLong`.
    /// - Parameter context: the model's context length (77 for every released CLIP; a small
    ///   model may have fewer positions).
    public func tokenize(_ text: String, truncate: Bool, context: Int = CLIPTokenizer.contextLength) throws -> [Int32] {
        var ids = [startOfText] + encode(text) + [endOfText]
        if ids.count > context {
            guard truncate, context >= 2 else { throw TokenizerError.tooLong(tokens: ids.count, limit: context) }
            ids.removeLast(ids.count - context)
            ids[context - 1] = endOfText
        }
        return ids
    }

    /// `open_clip.tokenize(text)[0]` exactly: 77 ids, truncated as open_clip does, padded with 0.
    public func tokenizePadded(_ text: String) -> [Int32] {
        var ids = (try? tokenize(text, truncate: true)) ?? []
        ids += [Int32](repeating: 0, count: Self.contextLength - ids.count)
        return ids
    }

    /// Text of `ids` as open_clip's `decode`: tokens joined, `</w>` read as a space, invalid
    /// UTF-8 replaced by U+FFFD. Ids outside the vocabulary are skipped.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < tokens.count {
            for s in tokens[Int(id)].unicodeScalars {
                if let b = ByteAlphabet.byteOfCharacter[s] { bytes.append(b) } else { bytes.append(contentsOf: UTF8.encode(s)!) }
            }
        }
        return String(decoding: bytes, as: UTF8.self).replacing("</w>", with: " ")
    }
}
