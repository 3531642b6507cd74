// Captions files: which image goes with which caption, for training on a user's own pairs.
//
// Two formats, chosen by the file's extension:
// - `.tsv`: `image_path<TAB>caption` per line. An optional first line naming the columns
//   (`image<TAB>caption`, open_clip's `filepath<TAB>title`, or any of the names in
//   `CaptionFile.imageColumns` / `captionColumns`) is skipped, and with it the columns may be in
//   any order and there may be more of them. A caption cannot contain a tab.
// - `.jsonl`: one JSON object per line, `{"image": "...", "caption": "..."}`; "file"/"filepath"
//   and "text"/"title" are accepted for the two keys.
// Relative image paths are relative to the captions file's folder. Lines may end in CRLF; blank
// lines are ignored; a UTF-8 byte-order mark is dropped. A bad row is never fatal here: it is
// recorded with its line number and reason (`SkippedRow`) and the rest of the file is read.

import CLIPSupport

/// Why a row of a captions file was not used.
public enum SkipReason: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line is not a row of the format (wrong field count, invalid JSON, missing key, …).
    case malformedRow(String)
    /// The caption is empty or only whitespace.
    case emptyCaption
    /// The image file does not exist.
    case missingImage(path: String)
    /// The image exists but could not be read, decoded or preprocessed.
    case undecodableImage(path: String, detail: String)

    public var description: String {
        switch self {
        case .malformedRow(let why): return "malformed row: \(why)"
        case .emptyCaption: return "empty caption"
        case .missingImage(let path): return "missing image '\(path)'"
        case let .undecodableImage(path, detail): return "undecodable image '\(path)': \(detail)"
        }
    }
}

/// A row that was skipped: its 1-based line in the captions file and why.
public struct SkippedRow: Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let reason: SkipReason
    public init(line: Int, reason: SkipReason) { self.line = line; self.reason = reason }
    public var description: String { "line \(line): \(reason)" }
}

/// One usable row: the image path (resolved against the captions file's folder) and its caption.
public struct CaptionRow: Sendable, Equatable {
    public let line: Int
    public let imagePath: String
    public let caption: String
    public init(line: Int, imagePath: String, caption: String) {
        self.line = line; self.imagePath = imagePath; self.caption = caption
    }
}

/// Errors that stop loading altogether (a bad row only skips that row).
public enum CaptionDataError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case unsupportedFormat(path: String)
    case noUsableRows(path: String, skipped: [SkippedRow])
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read captions file '\(path)': \(reason)"
        case .unsupportedFormat(let path):
            return "captions file '\(path)' has an extension PocketCLIP does not read; name it .tsv (image_path<TAB>caption per line) or .jsonl ({\"image\": ..., \"caption\": ...} per line)"
        case let .noUsableRows(path, skipped):
            let shown = skipped.prefix(5).map(\.description).joined(separator: "; ")
            let why = skipped.isEmpty ? "the file has no rows" : "all \(skipped.count) rows were skipped (\(shown)\(skipped.count > 5 ? "; …" : ""))"
            return "captions file '\(path)' gives no usable image–caption pair: \(why). Each row needs an existing PNG, JPEG or WebP image (path relative to the captions file's folder) and a non-empty caption"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        }
    }
}

/// The two captions file formats.
public enum CaptionFormat: String, Sendable, Equatable {
    case tsv, jsonl

    /// The format named by `path`'s extension (.tsv or .jsonl, any case).
    public static func of(path: String) throws -> CaptionFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".tsv") { return .tsv }
        if lower.hasSuffix(".jsonl") { return .jsonl }
        throw CaptionDataError.unsupportedFormat(path: path)
    }
}

/// A parsed captions file: its usable rows and the rows it skipped.
///
///     let file = try CaptionFile.parse(path: "examples/train-your-own/captions.tsv")
///     for s in file.skipped { print(s) }   // "line 7: empty caption"
public struct CaptionFile: Sendable {
    public let path: String
    public let format: CaptionFormat
    public let rows: [CaptionRow]
    public let skipped: [SkippedRow]

    /// Largest captions file read: ~5 M rows of 100 bytes, far beyond what this trainer holds in
    /// memory as decoded images, and small enough that a wrong path (a video) fails at once.
    public static let maxFileBytes = 512 << 20
    /// Header names of the image column (TSV), and the JSONL keys tried in order.
    public static let imageColumns = ["image", "filepath", "file", "path", "image_path", "filename"]
    /// Header names of the caption column (TSV), and the JSONL keys tried in order.
    public static let captionColumns = ["caption", "title", "text"]

    /// Refuses a captions file larger than `maxFileBytes`, from its size, before it is read.
    static func checkSize(_ size: Int, path: String) throws {
        guard size <= maxFileBytes else {
            throw CaptionDataError.unreadable(path: path, reason: "it is \(size) bytes, more than the \(maxFileBytes) (\(maxFileBytes >> 20) MiB) allowed (CaptionFile.maxFileBytes); check that this is the captions file (one image–caption pair per line)")
        }
    }

    /// Reads and parses the captions file at `path` (format from its extension).
    public static func parse(path: String) throws -> CaptionFile {
        let format = try CaptionFormat.of(path: path)
        let bytes: [UInt8]
        do {
            let file = try ReadOnlyFile(path: path)
            try checkSize(file.size, path: path)
            bytes = try file.bytes(at: 0, count: file.size)
        } catch let e as FileError {
            throw CaptionDataError.unreadable(path: path, reason: e.description)
        }
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        return parse(bytes: bytes, format: format, baseDirectory: folder, path: path)
    }

    /// Parses captions-file bytes; relative image paths are resolved against `baseDirectory`.
    public static func parse(bytes: [UInt8], format: CaptionFormat, baseDirectory: String, path: String = "<bytes>") -> CaptionFile {
        var rows: [CaptionRow] = []
        var skipped: [SkippedRow] = []
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var columns: (image: Int, caption: Int)?  // from a TSV header; nil: image, caption
        var sawRow = false
        for (index, rawLine) in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            var raw = rawLine
            if raw.last == UInt8(ascii: "\r") { raw = raw.dropLast() }
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }  // blank line
            guard let text = String(validating: raw, as: UTF8.self) else {
                skipped.append(SkippedRow(line: line, reason: .malformedRow("the line is not valid UTF-8 text")))
                continue
            }
            let fields: Result<(String, String), SkipReason>
            switch format {
            case .tsv:
                let parts = text.split(separator: "\t", omittingEmptySubsequences: false).map(trimmed)
                if !sawRow, let header = headerColumns(parts) {
                    columns = header
                    sawRow = true
                    continue
                }
                fields = tsvFields(parts, columns: columns)
            case .jsonl:
                fields = jsonFields(Array(raw))
            }
            sawRow = true
            switch fields {
            case .failure(let reason):
                skipped.append(SkippedRow(line: line, reason: reason))
            case .success(let (image, caption)):
                if image.isEmpty {
                    skipped.append(SkippedRow(line: line, reason: .malformedRow("the image path is empty")))
                } else if caption.isEmpty {
                    skipped.append(SkippedRow(line: line, reason: .emptyCaption))
                } else {
                    let resolved = image.hasPrefix("/") ? image : (baseDirectory.hasSuffix("/") ? baseDirectory : baseDirectory + "/") + image
                    rows.append(CaptionRow(line: line, imagePath: resolved, caption: caption))
                }
            }
        }
        return CaptionFile(path: path, format: format, rows: rows, skipped: skipped)
    }

    /// The (image, caption) column indices if `parts` is a header line naming both.
    static func headerColumns(_ parts: [String]) -> (image: Int, caption: Int)? {
        let names = parts.map { $0.lowercased() }
        guard let image = names.firstIndex(where: imageColumns.contains),
              let caption = names.firstIndex(where: captionColumns.contains) else { return nil }
        return (image, caption)
    }

    static func tsvFields(_ parts: [String], columns: (image: Int, caption: Int)?) -> Result<(String, String), SkipReason> {
        if let columns {
            let needed = max(columns.image, columns.caption) + 1
            guard parts.count >= needed else {
                return .failure(.malformedRow("expected at least \(needed) tab-separated fields (the header puts the image in column \(columns.image + 1) and the caption in column \(columns.caption + 1)), found \(parts.count); a caption may not contain a tab"))
            }
            return .success((parts[columns.image], parts[columns.caption]))
        }
        guard parts.count == 2 else {
            return .failure(.malformedRow("expected 2 tab-separated fields (image path, caption), found \(parts.count); a caption may not contain a tab, and more columns need a header line naming them"))
        }
        return .success((parts[0], parts[1]))
    }

    static func jsonFields(_ bytes: [UInt8]) -> Result<(String, String), SkipReason> {
        let value: JSONValue
        do { value = try parseJSON(bytes) } catch {
            return .failure(.malformedRow("\(error)"))
        }
        guard value.members != nil else { return .failure(.malformedRow("expected a JSON object {\"image\": ..., \"caption\": ...}")) }
        func field(_ keys: [String], _ role: String) -> Result<String, SkipReason> {
            guard let key = keys.first(where: { value[$0] != nil }) else {
                return .failure(.malformedRow("no \(role) key (one of \(keys.map { "\"\($0)\"" }.joined(separator: ", ")))"))
            }
            guard let s = value[key]!.string else { return .failure(.malformedRow("\"\(key)\" is not a string")) }
            return .success(trimmed(Substring(s)))
        }
        switch (field(imageColumns, "image"), field(captionColumns, "caption")) {
        case let (.success(image), .success(caption)): return .success((image, caption))
        case let (.failure(reason), _), let (_, .failure(reason)): return .failure(reason)
        }
    }

    /// Without leading and trailing whitespace (spaces, tabs, and any Unicode whitespace).
    static func trimmed(_ s: Substring) -> String {
        guard let first = s.firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = s.lastIndex(where: { !$0.isWhitespace })!
        return String(s[first...last])
    }
}
