// An embedding index: a folder of images embedded once by the vision tower and saved, so text-
// to-image and image-to-image search only embed the query. Like a class head, it records the
// fingerprint of the .pclip model that made it; another model's embeddings live in another
// space, so using it with another model is an error.
//
// File layout (little-endian; docs/examples.md has the same table):
//
//     magic        8 B   "PCLIPIDX"
//     version      u32   2 (1 is read too: its root is absolute)
//     fingerprint  u32   the model's (CLIPModel.fingerprint)
//     dim          u32   embedding size, 1...maxDim
//     count        u32   entries, ≤ maxEntries
//     root_len     u32   ≤ maxPathBytes
//     root         root_len B of UTF-8: the indexed folder relative to the directory that
//                  holds the index file ("." for the index's own directory, "" for none);
//                  one starting with "/" is absolute (version 1 always stored it so)
//     count × entry:
//       path_len   u32   1...maxPathBytes
//       path       path_len B of UTF-8, relative to root
//       size       u64   the file's size when it was embedded
//       mtime_ns   i64   its modification time (ns since the epoch)
//       embedding  dim × f32, L2-normalized
//     crc32        u32   zlib CRC-32 of every byte before it
//
// Writes go through AtomicFileWriter (temporary file, fsync, rename): the path only ever holds
// a complete index. Building over a folder saves every few batches, so a killed run keeps what
// it saved, and a rerun embeds only files that are new or changed (size or mtime differ).
// Moving the folder and its index together (IndexPaths.swift) keeps both working.

import CLIPImage
import CLIPRuntime
import CLIPSupport

/// What the index remembers about a file, to tell on a rerun whether it changed.
public struct FileStamp: Sendable, Equatable {
    public var size: Int64
    public var modifiedNanoseconds: Int64

    public init(size: Int64, modifiedNanoseconds: Int64) {
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
    }

    /// The stamp of the file at `path` now (following symlinks), or nil if it cannot be stat'ed.
    public static func of(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(size: Int64(st.st_size),
                         modifiedNanoseconds: Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec))
    }
}

/// One search result: an indexed file and its cosine similarity with the query.
public struct SearchHit: Sendable, Equatable {
    /// The path relative to the index root.
    public let path: String
    public let score: Float
}

public enum EmbeddingIndexError: Error, CustomStringConvertible, Equatable {
    case notAnIndex(path: String)
    case unsupportedVersion(path: String, version: UInt32)
    case corrupt(path: String, detail: String)
    case otherModel(path: String, index: UInt32, model: String)
    case otherFolder(path: String, index: String, given: String)
    case invalid(String)

    public var description: String {
        switch self {
        case let .notAnIndex(path):
            // A model or class head (.pclip files both) is the usual mix-up: name it.
            let what = CLIPModel.isPclip(path) ? "it is a .pclip file (a model or a class head)" : "it does not start with the PCLIPIDX magic"
            return "'\(path)' is not an embedding index: \(what); build one with: pocketclip index build MODEL FOLDER -o FILE"
        case let .unsupportedVersion(path, v):
            return "index '\(path)' has format version \(v); this pocketclip reads versions \(EmbeddingIndex.readableVersions.lowerBound) to \(EmbeddingIndex.readableVersions.upperBound): rebuild the index"
        case let .corrupt(path, detail):
            return "index '\(path)' is truncated or corrupt: \(detail); delete it and build it again"
        case let .otherModel(path, index, model):
            return "index '\(path)' was built with another model (fingerprint \(hex8(index)), this model's is \(model)); query it with the model that built it, or rebuild it"
        case let .otherFolder(path, index, given):
            return "index '\(path)' indexes '\(index)', not '\(given)'; give that folder to continue it, or write a new index with another -o"
        case let .invalid(what):
            return what
        }
    }
}

/// Normalized image embeddings of the files under one folder, saved with the model's fingerprint.
///
/// ```swift
/// let model = try CLIPModel.load(pclip: "model.pclip", towers: .vision)
/// try EmbeddingIndex.build(model: model, folder: "photos", output: "photos.index")
/// let index = try EmbeddingIndex.read("photos.index")
/// let hits = index.search(try model.embedImage(path: "query.png"), topK: 5)
/// ```
///
/// Thread safety: a value type. Any number of threads may `search` one index at once; a thread
/// that `append`s works on its own copy (copy-on-write), so give the updated copy back to
/// readers yourself (for example behind a lock). `build` writes its output file: don't run two
/// builds into the same file at once.
public struct EmbeddingIndex: Sendable {
    public static let magic: [UInt8] = Array("PCLIPIDX".utf8)
    /// The version written. 2: the root is stored relative to the index file's directory.
    public static let version: UInt32 = 2
    /// Versions read (1 stored an absolute root, which version 2 still reads as such).
    public static let readableVersions: ClosedRange<UInt32> = 1...2
    /// Largest embedding accepted: ViT-bigG's is 1280; 16384 leaves room and bounds a lying header.
    public static let maxDim = 16384
    /// Most entries in one index (a u32 field anyway): beyond that, shard the folder.
    public static let maxEntries = 100_000_000
    /// Longest path stored (Linux PATH_MAX).
    public static let maxPathBytes = 4096

    public let modelFingerprint: UInt32
    public let dim: Int
    /// The indexed folder, absolute and normalized when read from a file or built (where the
    /// file names it now, relative to the index's own directory); entry paths are relative to
    /// it. Empty: an index of no folder (entries a program appended itself).
    public let root: String
    public private(set) var paths: [String] = []
    public private(set) var stamps: [FileStamp] = []
    /// Entry i's normalized embedding is `vectors[i * dim ..< (i + 1) * dim]`.
    public private(set) var vectors: [Float] = []

    public var count: Int { paths.count }

    public init(modelFingerprint: UInt32, dim: Int, root: String) throws {
        guard dim >= 1 && dim <= Self.maxDim else {
            throw EmbeddingIndexError.invalid("embedding size \(dim) is outside 1...\(Self.maxDim) (EmbeddingIndex.maxDim); index with a CLIP model whose embedding fits")
        }
        self.modelFingerprint = modelFingerprint
        self.dim = dim
        self.root = root
    }

    public func embedding(at i: Int) -> ArraySlice<Float> { vectors[(i * dim)..<((i + 1) * dim)] }

    /// Adds an entry; the embedding is normalized here.
    public mutating func append(path: String, stamp: FileStamp, embedding: [Float]) throws {
        guard embedding.count == dim else { throw EmbeddingIndexError.invalid("embedding has \(embedding.count) values, the index holds \(dim)") }
        let n = path.utf8.count
        guard n >= 1 && n <= Self.maxPathBytes else {
            throw EmbeddingIndexError.invalid("path '\(path)' is \(n) bytes, outside 1...\(Self.maxPathBytes) (EmbeddingIndex.maxPathBytes); move or rename the file to shorten its path under the folder")
        }
        guard count < Self.maxEntries else { throw EmbeddingIndexError.invalid("the index is full (\(Self.maxEntries) entries); shard the folder") }
        paths.append(path)
        stamps.append(stamp)
        vectors += ZeroShot.normalized(embedding)
    }

    /// Drops the entries for which `remove(path, stamp)` is true.
    public mutating func removeAll(where remove: (String, FileStamp) -> Bool) {
        var (p, s, v) = ([String](), [FileStamp](), [Float]())
        for i in 0..<count where !remove(paths[i], stamps[i]) {
            p.append(paths[i]); s.append(stamps[i]); v += embedding(at: i)
        }
        (paths, stamps, vectors) = (p, s, v)
    }

    /// The `topK` entries most similar (cosine) to `query`, best first; ties in path order.
    public func search(_ query: [Float], topK: Int) throws -> [SearchHit] {
        guard query.count == dim else { throw EmbeddingIndexError.invalid("the query embedding has \(query.count) values, the index holds \(dim)") }
        let q = ZeroShot.normalized(query)
        let scores = (0..<count).map { i -> Float in
            var dot: Float = 0
            let base = i * dim
            for j in 0..<dim { dot += q[j] * vectors[base + j] }
            return dot
        }
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : paths[$0] < paths[$1] }
        return order.prefix(max(0, topK)).map { SearchHit(path: paths[$0], score: scores[$0]) }
    }

    // MARK: - Writing and reading

    /// Writes the index atomically: `path` holds either the old file or the whole new one. The
    /// root is stored relative to `path`'s directory (`storedRoot(forIndexAt:)`).
    public func write(to path: String) throws {
        let storedRoot = storedRoot(forIndexAt: path)
        guard storedRoot.utf8.count <= Self.maxPathBytes else {
            throw EmbeddingIndexError.invalid("the folder's path relative to the index is \(storedRoot.utf8.count) bytes, more than the \(Self.maxPathBytes) an index stores (EmbeddingIndex.maxPathBytes); write the index nearer to the folder")
        }
        let writer = try AtomicFileWriter(path: path)
        var crc: UInt32 = 0
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        func flush() throws {
            crc = buffer.withUnsafeBytes { CLIPSupport.crc32($0, initial: crc) }
            try writer.write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
        buffer += Self.magic
        for v in [Self.version, modelFingerprint, UInt32(dim), UInt32(count), UInt32(storedRoot.utf8.count)] { buffer.appendLE(v) }
        buffer += Array(storedRoot.utf8)
        for i in 0..<count {
            buffer.appendLE(UInt32(paths[i].utf8.count))
            buffer += Array(paths[i].utf8)
            buffer.appendLE(UInt64(bitPattern: stamps[i].size))
            buffer.appendLE(UInt64(bitPattern: stamps[i].modifiedNanoseconds))
            for x in embedding(at: i) { buffer.appendLE(x.bitPattern) }
            if buffer.count >= 1 << 20 { try flush() }
        }
        try flush()
        buffer.appendLE(crc)
        try writer.write(buffer)
        try writer.commit()
    }

    /// Reads an index, checking its checksum, then every size against the bytes that remain
    /// before anything is allocated for it.
    public static func read(_ path: String) throws -> EmbeddingIndex {
        let file = try ReadOnlyFile(path: path)
        // The magic first, so a large file that is not an index is refused without reading it.
        guard file.size >= magic.count, try file.bytes(at: 0, count: magic.count) == magic else {
            throw EmbeddingIndexError.notAnIndex(path: path)
        }
        return try parse(bytes: try file.bytes(at: 0, count: file.size), path: path)
    }

    /// Parses the bytes of an index file, with the same checks as `read` (which calls it);
    /// `path` names the file in errors, and its directory is where a relative root starts.
    /// Also the fuzzer's entry point (Fuzz/FuzzIndex).
    public static func parse(bytes: [UInt8], path: String) throws -> EmbeddingIndex {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw EmbeddingIndexError.notAnIndex(path: path)
        }
        // The smallest index: magic, five u32 header fields, an empty root, no entries, the CRC.
        let minSize = magic.count + 5 * 4 + 4
        guard bytes.count >= minSize else {
            throw EmbeddingIndexError.corrupt(path: path, detail: "\(bytes.count) bytes, shorter than the \(minSize)-byte header")
        }
        return try bytes.withUnsafeBytes { try parse(fields: $0, path: path) }
    }

    /// `parse` after the magic and size checks: `file` is the whole file, its last 4 bytes the CRC.
    private static func parse(fields file: UnsafeRawBufferPointer, path: String) throws -> EmbeddingIndex {
        var r = ByteCursor(bytes: UnsafeRawBufferPointer(rebasing: file[..<(file.count - 4)])) { o in
            EmbeddingIndexError.corrupt(path: path, detail: "\(o.what) needs \(o.count) bytes at offset \(o.position), \(o.remaining) remain")
        }
        r.position = magic.count
        let version = try r.u32("version")
        guard readableVersions.contains(version) else { throw EmbeddingIndexError.unsupportedVersion(path: path, version: version) }
        let stored = file[(file.count - 4)...].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let actual = crc32(UnsafeRawBufferPointer(rebasing: file[..<(file.count - 4)]))
        guard stored == actual else {
            throw EmbeddingIndexError.corrupt(path: path, detail: "checksum \(hex8(actual)) differs from the stored \(hex8(stored))")
        }
        let fingerprint = try r.u32("fingerprint")
        let dim = Int(try r.u32("dim"))
        let count = Int(try r.u32("count"))
        guard dim >= 1 && dim <= maxDim else {
            throw EmbeddingIndexError.corrupt(path: path, detail: "dim \(dim) (the embedding size) is outside 1...\(maxDim) (EmbeddingIndex.maxDim)")
        }
        let root = resolvedRoot(stored: try r.string("root", allowEmpty: true, path: path), indexPath: path)
        // Each entry needs at least its fixed fields, one path byte and its floats: a count
        // the remaining bytes cannot hold is refused before any reservation.
        guard count <= maxEntries else {
            throw EmbeddingIndexError.corrupt(path: path, detail: "header claims \(count) entries, more than the \(maxEntries) an index holds (EmbeddingIndex.maxEntries)")
        }
        let minEntry = 4 + 1 + 16 + 4 * dim
        guard count <= r.remaining / minEntry else {
            throw EmbeddingIndexError.corrupt(path: path, detail: "header claims \(count) entries of ≥\(minEntry) bytes but only \(r.remaining) bytes follow")
        }
        var index = try EmbeddingIndex(modelFingerprint: fingerprint, dim: dim, root: root)
        index.paths.reserveCapacity(count)
        index.stamps.reserveCapacity(count)
        index.vectors.reserveCapacity(count * dim)
        for i in 0..<count {
            let p = try r.string("entry \(i) path", allowEmpty: false, path: path)
            let size = Int64(bitPattern: try r.u64("entry \(i) size"))
            let mtime = Int64(bitPattern: try r.u64("entry \(i) mtime"))
            try r.need(4 * dim, "entry \(i) embedding")
            for _ in 0..<dim {
                let x = Float(bitPattern: try r.u32("embedding"))
                guard x.isFinite else { throw EmbeddingIndexError.corrupt(path: path, detail: "entry \(i) ('\(p)') has a non-finite value") }
                index.vectors.append(x)
            }
            index.paths.append(p)
            index.stamps.append(FileStamp(size: size, modifiedNanoseconds: mtime))
        }
        guard r.remaining == 0 else { throw EmbeddingIndexError.corrupt(path: path, detail: "\(r.remaining) unexpected bytes after the last entry") }
        return index
    }

    /// Reads an index and checks it was built by `model`.
    public static func load(_ path: String, for model: CLIPModel) throws -> EmbeddingIndex {
        let index = try read(path)
        try index.check(builtBy: model, path: path)
        return index
    }

    /// Throws unless `model` is the .pclip model this index was built with (`path` names the
    /// index in the error).
    public func check(builtBy model: CLIPModel, path: String) throws {
        try check(modelFingerprint: model.fingerprint, embedDim: model.config.embedDim, path: path)
    }

    /// Throws unless the index was built by the model with `modelFingerprint` (nil: a model not
    /// loaded from .pclip) and embedding size `embedDim`.
    public func check(modelFingerprint fingerprint: UInt32?, embedDim: Int, path: String) throws {
        guard let fingerprint, fingerprint == modelFingerprint, dim == embedDim else {
            throw EmbeddingIndexError.otherModel(path: path, index: modelFingerprint,
                                                 model: fingerprint.map(hex8) ?? "unknown: not a .pclip model")
        }
    }
}

// MARK: - Building over a folder

/// How `EmbeddingIndex.build` walks and batches.
public struct IndexBuildOptions: Sendable {
    /// File name extensions to embed, lowercase, without the dot.
    public var extensions: Set<String> = ["png", "jpg", "jpeg", "webp"]
    /// Images per forward pass.
    public var batchSize: Int = 16
    /// Save after at least this many new images (and at the end). Once the index is large a save
    /// waits for count/8 new images instead, so rewriting stays under ~9× the final file size in
    /// total however large the folder is.
    public var saveEvery: Int = 64

    public init() {}
}

/// Where a build stands; given to the progress callback after every batch.
public struct IndexBuildProgress: Sendable {
    public var total = 0           // image files found
    public var unchanged = 0       // already in the index with the same size and mtime
    public var removed = 0         // entries dropped: file gone or changed
    public var embedded = 0        // embedded in this run
    public var undecodable: [(path: String, reason: String)] = []
    public var saves = 0           // times the index was written
    public var justSaved = false   // this callback follows a save
}

extension EmbeddingIndex {
    /// Embeds every image under `folder` (recursively, hidden entries skipped, sorted by path)
    /// into the index at `output`, continuing the index already there: files with the same
    /// size and mtime are kept, changed ones re-embedded, vanished ones dropped. Images that
    /// cannot be decoded are counted and skipped. `progress` may throw to stop the build; the
    /// index then holds what was saved. `beforeWriting` is called once, after the folder is
    /// scanned and before any image is embedded, if the build will write `output` at all (an
    /// up-to-date index is left untouched, so a read-only one still "builds"): a caller checks
    /// there that `output` can be written, so a failure costs no embedding work.
    @discardableResult
    public static func build(model: CLIPModel, folder: String, output: String, options: IndexBuildOptions = IndexBuildOptions(),
                             beforeWriting: () throws -> Void = {},
                             progress: (IndexBuildProgress) throws -> Void = { _ in }) throws -> IndexBuildProgress {
        guard let vision = model.vision else { throw ModelError.invalidInput("building an index needs the vision tower") }
        guard let fingerprint = model.fingerprint else {
            throw ModelError.invalidInput("indexes are built from .pclip models; convert the checkpoint first (pocketclip convert)")
        }
        guard options.batchSize >= 1, options.saveEvery >= 1 else { throw EmbeddingIndexError.invalid("batch size and save interval must be at least 1") }
        guard isDirectory(folder), let root = realPath(folder) else {
            throw EmbeddingIndexError.invalid("'\(folder)' is not a folder; give the folder of images to index")
        }
        var index: EmbeddingIndex
        if fileExists(output) {
            index = try load(output, for: model)
            guard index.root.utf8.elementsEqual(root.utf8) else { throw EmbeddingIndexError.otherFolder(path: output, index: index.root, given: root) }
        } else {
            index = try EmbeddingIndex(modelFingerprint: fingerprint, dim: model.config.embedDim, root: root)
        }
        let files = try listImages(root: root, extensions: options.extensions)
        var report = IndexBuildProgress()
        report.total = files.count
        var current: [String: FileStamp] = [:]
        for f in files { current[f.path] = f.stamp }
        let before = index.count
        index.removeAll { current[$0] != $1 }
        report.removed = before - index.count
        let done = Set(index.paths)
        report.unchanged = index.count
        let todo = files.filter { !done.contains($0.path) }
        if !todo.isEmpty || report.removed > 0 || !fileExists(output) { try beforeWriting() }

        var unsaved = report.removed
        for start in stride(from: 0, to: todo.count, by: options.batchSize) {
            let batch = todo[start..<min(todo.count, start + options.batchSize)]
            var pixels: [[Float]] = [], kept: [(path: String, stamp: FileStamp)] = []
            for f in batch {
                do {
                    pixels.append(try Preprocessor.pixels(path: root + "/" + f.path, config: model.preprocess))
                    kept.append(f)
                } catch {
                    report.undecodable.append((f.path, "\(error)"))
                }
            }
            if !pixels.isEmpty {
                for (f, e) in zip(kept, try vision.encode(batch: pixels, pool: model.pool)) {
                    try index.append(path: f.path, stamp: f.stamp, embedding: e)
                }
            }
            report.embedded += kept.count
            unsaved += kept.count
            report.justSaved = false
            if unsaved >= max(options.saveEvery, index.count / 8) {
                try index.write(to: output)
                (unsaved, report.saves, report.justSaved) = (0, report.saves + 1, true)
            }
            try progress(report)
        }
        if unsaved > 0 || !fileExists(output) {
            try index.write(to: output)
            report.saves += 1
        }
        return report
    }

    /// Image files under `root` with their stamps, as paths relative to `root`, sorted.
    static func listImages(root: String, extensions: Set<String>) throws -> [(path: String, stamp: FileStamp)] {
        var out: [(path: String, stamp: FileStamp)] = []
        var pending = [""]
        while let rel = pending.popLast() {
            let dirPath = rel.isEmpty ? root : root + "/" + rel
            guard let dir = opendir(dirPath) else {
                throw EmbeddingIndexError.invalid("cannot read folder '\(dirPath)': \(String(cString: strerror(errno)))")
            }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name.hasPrefix(".") { continue }  // ".", "..", hidden files and our own temporaries
                let child = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard lstat(root + "/" + child, &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    pending.append(child)  // real directories only: a symlinked one could loop
                } else if let dot = name.lastIndex(of: "."), extensions.contains(name[name.index(after: dot)...].lowercased()),
                          let stamp = FileStamp.of(root + "/" + child) {
                    out.append((child, stamp))
                }
            }
        }
        return out.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }
}

/// The index's fields on top of the byte cursor: lengths and stamps are little-endian u32 / u64.
private extension ByteCursor {
    mutating func u32(_ what: String) throws -> UInt32 { try uint(UInt32.self, what) }

    /// Two u32 halves, low first (a cut inside it is reported at the half that is missing).
    mutating func u64(_ what: String) throws -> UInt64 {
        let lo = UInt64(try u32(what)), hi = UInt64(try u32(what))
        return hi << 32 | lo
    }

    /// A u32 byte length, then that many bytes of UTF-8.
    mutating func string(_ what: String, allowEmpty: Bool, path: String) throws -> String {
        let n = Int(try u32(what + " length"))
        guard n <= EmbeddingIndex.maxPathBytes, allowEmpty || n > 0 else {
            throw EmbeddingIndexError.corrupt(path: path, detail: "\(what) length \(n) is outside \(allowEmpty ? 0 : 1)...\(EmbeddingIndex.maxPathBytes) bytes (EmbeddingIndex.maxPathBytes)")
        }
        guard let s = String(validating: try take(n, what), as: UTF8.self) else {
            throw EmbeddingIndexError.corrupt(path: path, detail: "\(what) is not UTF-8")
        }
        return s
    }
}
