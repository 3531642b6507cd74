// Where an index's folder is: stored relative to the directory that holds the index file
// (format version 2), so a folder moved together with its index — or the folder holding both —
// is still the index's folder. In memory the root is absolute. Everything here is string
// arithmetic on absolute paths; the file system is asked once, for the realpath of the index's
// directory (the folder's own realpath is taken by `build`). Components are compared byte for
// byte: file names are bytes, and Swift's `==` would take two spellings of "é" for one.

import CLIPSupport

/// The components of `path` between slashes, empty ones dropped. Split on the byte '/', as the
/// kernel does: a Character-based split would keep "/" + a combining mark together. (UTF-8 never
/// has that byte inside a multi-byte character, so each piece decodes back to its own bytes.)
func pathComponents(_ path: String) -> [Substring.UTF8View] {
    path.utf8.split(separator: slash)
}

private let slash = UInt8(ascii: "/")
private let dot = Array(".".utf8), dotDot = Array("..".utf8)

func isAbsolute(_ path: String) -> Bool { path.utf8.first == slash }

/// `path` (absolute) with empty and "." components dropped and ".." applied; ".." at the top
/// stays at "/", as the kernel resolves it.
func lexicallyNormalized(_ path: String) -> String {
    var parts: [Substring.UTF8View] = []
    for c in pathComponents(path) where !c.elementsEqual(dot) {
        if c.elementsEqual(dotDot) { _ = parts.popLast() } else { parts.append(c) }
    }
    return "/" + parts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
}

/// `path` made absolute against the current directory (unchanged if it already is).
func absolutePath(_ path: String) -> String {
    if isAbsolute(path) { return path }
    guard let cwd = getcwd(nil, 0) else { return "/" + path }
    defer { free(cwd) }
    return String(cString: cwd) + "/" + path
}

/// The directory holding `file`: its realpath when it exists, else its normalized absolute path.
func resolvedDirectory(of file: String) -> String {
    let bytes = file.utf8
    let dir = bytes.lastIndex(of: slash).map { $0 == bytes.startIndex ? "/" : String(decoding: bytes[..<$0], as: UTF8.self) } ?? "."
    return realPath(dir) ?? lexicallyNormalized(absolutePath(dir))
}

/// `target` relative to `base`, both normalized absolute paths: "." when they are the same.
func relativePath(from base: String, to target: String) -> String {
    let b = pathComponents(base), t = pathComponents(target)
    var common = 0
    while common < b.count, common < t.count, b[common].elementsEqual(t[common]) { common += 1 }
    let parts = Array(repeating: "..", count: b.count - common) + t[common...].map { String(decoding: $0, as: UTF8.self) }
    return parts.isEmpty ? "." : parts.joined(separator: "/")
}

/// The absolute realpath of `path`, or nil.
func realPath(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
}

extension EmbeddingIndex {
    /// The root as an index file at `indexPath` stores it: relative to the directory that holds
    /// the file ("." when the index lies in the folder itself); an empty root (no folder) stays
    /// empty.
    ///
    ///     // root "/data/photos": "photos" for /data/photos.index, "." for /data/photos/.index
    public func storedRoot(forIndexAt indexPath: String) -> String {
        guard !root.isEmpty else { return "" }
        return relativePath(from: resolvedDirectory(of: indexPath), to: lexicallyNormalized(absolutePath(root)))
    }

    /// The absolute root a stored one names for an index file at `indexPath`: a relative root is
    /// taken from the file's directory, an absolute one (what version 1 stored) as it is.
    static func resolvedRoot(stored: String, indexPath: String) -> String {
        if stored.isEmpty { return "" }
        if isAbsolute(stored) { return lexicallyNormalized(stored) }
        return lexicallyNormalized(resolvedDirectory(of: indexPath) + "/" + stored)
    }
}
