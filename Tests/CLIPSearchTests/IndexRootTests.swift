// Where an index's folder is (format version 2, IndexPaths.swift): stored relative to the index
// file's directory, so a folder moved together with its index still builds and queries; a
// version-1 index (absolute root, as `index build` wrote it before) still reads and continues.

import CLIPConvert
import CLIPRuntime
import CLIPSearch
import CorpusSupport
import Foundation
import XCTest

/// The bytes the version-1 writer made for `index` with `root` stored as given (absolute): the
/// layout of version 1, field by field, as `EmbeddingIndex.write` wrote it before version 2.
/// Checked against that writer once: Fuzz/corpus/FuzzIndex/version-1-absolute-root.index, made
/// here, is byte for byte the photos-3x4.index seed the version-1 writer had committed.
func version1Bytes(_ index: EmbeddingIndex, root: String) -> [UInt8] {
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    func le64(_ v: Int64) -> [UInt8] { le32(UInt32(truncatingIfNeeded: v)) + le32(UInt32(truncatingIfNeeded: v >> 32)) }
    var b = EmbeddingIndex.magic + le32(1) + le32(index.modelFingerprint) + le32(UInt32(index.dim)) + le32(UInt32(index.count))
    b += le32(UInt32(root.utf8.count)) + Array(root.utf8)
    for i in 0..<index.count {
        b += le32(UInt32(index.paths[i].utf8.count)) + Array(index.paths[i].utf8)
        b += le64(index.stamps[i].size) + le64(index.stamps[i].modifiedNanoseconds)
        for x in index.embedding(at: i) { b += le32(x.bitPattern) }
    }
    return b.withCRC()
}

final class IndexRootTests: XCTestCase {
    let fm = FileManager.default

    /// A fresh directory with symlinks resolved (what `build` compares roots with).
    func scratch() throws -> String { URL(fileURLWithPath: try temporaryDirectory()).resolvingSymlinksInPath().path }

    /// The root field of an index file as stored.
    func storedRoot(_ path: String) throws -> String {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = (0..<4).reduce(0) { $0 | Int(b[24 + $1]) << (8 * $1) }
        return String(decoding: b[28..<(28 + n)], as: UTF8.self)
    }

    func index(root: String) throws -> EmbeddingIndex {
        var index = try EmbeddingIndex(modelFingerprint: 7, dim: 2, root: root)
        try index.append(path: "a.png", stamp: FileStamp(size: 1, modifiedNanoseconds: 2), embedding: [3, 4])
        return index
    }

    func testStoredRelativeToTheIndexFile() throws {
        let dir = try scratch()
        try fm.createDirectory(atPath: dir + "/photos/sub", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/elsewhere/deep", withIntermediateDirectories: true)
        let photos = try index(root: dir + "/photos")
        for (indexPath, stored) in [(dir + "/photos.index", "photos"), (dir + "/photos/.index", "."),
                                    (dir + "/photos/sub/x.index", ".."), (dir + "/elsewhere/deep/x.index", "../../photos")] {
            XCTAssertEqual(photos.storedRoot(forIndexAt: indexPath), stored)
            try photos.write(to: indexPath)
            XCTAssertEqual(try storedRoot(indexPath), stored)
            XCTAssertEqual(try EmbeddingIndex.read(indexPath).root, dir + "/photos", indexPath)
        }
        // A relative path to the index resolves from the current directory, as any path does.
        let cwd = fm.currentDirectoryPath
        XCTAssertTrue(fm.changeCurrentDirectoryPath(dir + "/elsewhere"))
        defer { _ = fm.changeCurrentDirectoryPath(cwd) }
        XCTAssertEqual(try EmbeddingIndex.read("deep/x.index").root, dir + "/photos")
        XCTAssertEqual(try EmbeddingIndex.read("../photos.index").root, dir + "/photos")
        // An in-memory root given relative is taken from the current directory too.
        try index(root: "../photos").write(to: dir + "/photos.index")
        XCTAssertEqual(try storedRoot(dir + "/photos.index"), "photos")
        // No folder stays no folder.
        try index(root: "").write(to: dir + "/none.index")
        XCTAssertEqual(try storedRoot(dir + "/none.index"), "")
        XCTAssertEqual(try EmbeddingIndex.read(dir + "/none.index").root, "")
    }

    /// Roots a writer would not store are still read by the same rule: an absolute one as it is
    /// (normalized), a relative one from the index's directory, "." and ".." applied.
    func testStoredRootsAreNormalized() throws {
        let dir = try scratch()
        try fm.createDirectory(atPath: dir + "/a", withIntermediateDirectories: true)
        let template = try index(root: "/unused")
        for (stored, resolved) in [("/x//y/./z/..", "/x/y"), ("/..", "/"), ("b/../c/./", dir + "/a/c"), ("", ""),
                                   (String(repeating: "../", count: 64) + "top", "/top")] {
            var bytes = version1Bytes(template, root: stored)
            bytes[8] = 2  // the same layout under version 2
            bytes = Array(bytes.dropLast(4)).withCRC()
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/a/i.index"))
            XCTAssertEqual(try EmbeddingIndex.read(dir + "/a/i.index").root, resolved, stored)
        }
    }

    /// Names are bytes: a folder "e" + combining acute and a directory "é" (one code point) are
    /// different folders, though Swift's `==` calls the two strings equal.
    func testComponentsAreComparedByteForByte() throws {
        let dir = try scratch()
        let precomposed = "\u{E9}", decomposed = "e\u{301}"
        XCTAssertEqual(precomposed, decomposed, "Swift's == is canonical equivalence")
        try fm.createDirectory(atPath: dir + "/" + precomposed, withIntermediateDirectories: true)
        let idx = try index(root: dir + "/" + decomposed)
        try idx.write(to: dir + "/" + precomposed + "/x.index")
        XCTAssertTrue(try storedRoot(dir + "/" + precomposed + "/x.index").utf8.elementsEqual("../\(decomposed)".utf8))
        XCTAssertTrue(try EmbeddingIndex.read(dir + "/" + precomposed + "/x.index").root.utf8.elementsEqual((dir + "/" + decomposed).utf8))
    }

    func testVersion1StillReads() throws {
        let dir = try scratch()
        let v2 = try index(root: "/photos/été")
        try Data(version1Bytes(v2, root: "/photos/été")).write(to: URL(fileURLWithPath: dir + "/old.index"))
        let old = try EmbeddingIndex.read(dir + "/old.index")
        XCTAssertEqual(old.root, "/photos/été")
        XCTAssertEqual(old.paths, v2.paths)
        XCTAssertEqual(old.stamps, v2.stamps)
        XCTAssertEqual(old.vectors.map(\.bitPattern), v2.vectors.map(\.bitPattern))
    }
}

/// Builds on the tiny fixture model: a moved folder with its index, and a version-1 index.
final class IndexRootBuildTests: XCTestCase {
    let fm = FileManager.default

    func model() throws -> CLIPModel {
        let c = try CheckpointLoader.load(fixture("tiny-openclip"),
                                          options: CheckpointOptions(tokenizerPath: fixture("tokenizer", "bpe_simple_vocab_16e6.txt.gz")))
        let path = try temporaryDirectory() + "/m.pclip"
        try PclipConverter.convert(c, to: path)
        return try CLIPModel.load(pclip: path, towers: .vision)
    }

    /// `base/photos` with the three fixture images.
    func photos(in base: String) throws -> String {
        let folder = base + "/photos"
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["rgb_40x54.png", "gray_31x31.png", "rgba_67x20.png"] {
            try fm.copyItem(atPath: fixture("tiny-openclip", "images", name), toPath: folder + "/" + name)
        }
        return folder
    }

    /// Folder and index side by side in `a`, then `a` renamed to `b`: the index names the new
    /// place, a build there embeds nothing and writes nothing, and a new image is added to it.
    func testMovedTogetherKeepsWorking() throws {
        let m = try model()
        let top = URL(fileURLWithPath: try temporaryDirectory()).resolvingSymlinksInPath().path
        try fm.createDirectory(atPath: top + "/a", withIntermediateDirectories: true)
        _ = try photos(in: top + "/a")
        try EmbeddingIndex.build(model: m, folder: top + "/a/photos", output: top + "/a/photos.index")
        let before = try EmbeddingIndex.load(top + "/a/photos.index", for: m)
        try fm.moveItem(atPath: top + "/a", toPath: top + "/b")

        let moved = try EmbeddingIndex.load(top + "/b/photos.index", for: m)
        XCTAssertEqual(moved.root, top + "/b/photos")
        XCTAssertEqual(moved.paths, before.paths)
        let query = try m.embedImage(path: top + "/b/photos/gray_31x31.png")
        XCTAssertEqual(try moved.search(query, topK: 3), try before.search(query, topK: 3))
        let again = try EmbeddingIndex.build(model: m, folder: top + "/b/photos", output: top + "/b/photos.index")
        XCTAssertEqual([again.unchanged, again.embedded, again.removed, again.saves], [3, 0, 0, 0])
        try fm.copyItem(atPath: top + "/b/photos/rgb_40x54.png", toPath: top + "/b/photos/new.png")
        let more = try EmbeddingIndex.build(model: m, folder: top + "/b/photos", output: top + "/b/photos.index")
        XCTAssertEqual([more.unchanged, more.embedded], [3, 1])
    }

    /// An index written by version 1 (absolute root) continues as before; once it has to be
    /// saved it is written as version 2, relative.
    func testVersion1IndexContinues() throws {
        let m = try model()
        let top = URL(fileURLWithPath: try temporaryDirectory()).resolvingSymlinksInPath().path
        let folder = try photos(in: top)
        try EmbeddingIndex.build(model: m, folder: folder, output: top + "/new.index")
        let built = try EmbeddingIndex.load(top + "/new.index", for: m)
        let old = version1Bytes(built, root: folder)
        try Data(old).write(to: URL(fileURLWithPath: top + "/old.index"))

        let upToDate = try EmbeddingIndex.build(model: m, folder: folder, output: top + "/old.index")
        XCTAssertEqual([upToDate.unchanged, upToDate.saves], [3, 0])
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: top + "/old.index"))), old, "an up-to-date index is left as it is")
        try fm.removeItem(atPath: folder + "/gray_31x31.png")
        let changed = try EmbeddingIndex.build(model: m, folder: folder, output: top + "/old.index")
        XCTAssertEqual([changed.unchanged, changed.removed, changed.saves], [2, 1, 1])
        let rewritten = [UInt8](try Data(contentsOf: URL(fileURLWithPath: top + "/old.index")))
        XCTAssertEqual(rewritten[8], 2, "saved as version 2")
        XCTAssertEqual(try EmbeddingIndex.load(top + "/old.index", for: m).root, folder)
        let entryBytes = 4 + "gray_31x31.png".utf8.count + 16 + 4 * m.config.embedDim
        XCTAssertEqual(rewritten.count, old.count - entryBytes - folder.utf8.count + "photos".utf8.count,
                       "one entry fewer, the root stored as \"photos\"")
    }
}
