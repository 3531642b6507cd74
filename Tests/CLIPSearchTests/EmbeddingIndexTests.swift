// The embedding index file: round trip, every kind of bad file refused with an error (never a
// crash or a huge allocation), and a folder build that continues where an interrupted one stopped.

import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CLIPSearch
import CorpusSupport
import Foundation
import XCTest

/// Reading a few-hundred-byte index (even one whose header claims billions of entries) must not
/// raise peak RSS by more than this: far below what any claimed count would need, well above
/// the noise of a test process.
let maxIndexReadGrowth = 16 << 20

final class EmbeddingIndexTests: XCTestCase {
    /// A small index of made-up vectors: entry k points mostly along axis k.
    func sample(dim: Int = 8, count: Int = 5) throws -> EmbeddingIndex {
        var index = try EmbeddingIndex(modelFingerprint: 0xC0FFEE11, dim: dim, root: "/photos/été")
        for k in 0..<count {
            var v = (0..<dim).map { Float(($0 * 7 + k * 3) % 5) * 0.01 }
            v[k % dim] += 1
            try index.append(path: "dir \(k)/img-\(k).png", stamp: FileStamp(size: Int64(1000 + k), modifiedNanoseconds: -5 + Int64(k) << 40), embedding: v)
        }
        return index
    }

    func testRoundTrip() throws {
        let dir = try temporaryDirectory()
        let index = try sample()
        try index.write(to: dir + "/a.index")
        let back = try EmbeddingIndex.read(dir + "/a.index")
        XCTAssertEqual(back.modelFingerprint, index.modelFingerprint)
        XCTAssertEqual(back.dim, index.dim)
        XCTAssertEqual(back.root, index.root)
        XCTAssertEqual(back.paths, index.paths)
        XCTAssertEqual(back.stamps, index.stamps)
        XCTAssertEqual(back.vectors, index.vectors, "floats are stored bit for bit")
        // Normalizing (scalar Swift, the same bits on every CPU) leaves each element within 7u
        // relative, and this float32 norm of 8 terms adds ≤ 5u: |norm − 1| ≤ 12u = 7.2e-7.
        for i in 0..<back.count {
            let norm = back.embedding(at: i).reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-6, "entries are stored normalized")
        }
        // Query along axis 3: entry 3 first, with a cosine near 1.
        var q = [Float](repeating: 0, count: 8)
        q[3] = 2
        let hits = try back.search(q, topK: 2)
        XCTAssertEqual(hits.map(\.path), ["dir 3/img-3.png", hits[1].path])
        XCTAssertGreaterThan(hits[0].score, 0.99)
        XCTAssertGreaterThan(hits[0].score, hits[1].score)
        XCTAssertEqual(try back.search(q, topK: 0), [])
        XCTAssertEqual(try back.search(q, topK: 99).count, 5)
        XCTAssertThrowsError(try back.search([1, 2], topK: 1), "a query of the wrong size")
    }

    func testEmptyIndexRoundTrips() throws {
        let dir = try temporaryDirectory()
        try EmbeddingIndex(modelFingerprint: 1, dim: 4, root: "").write(to: dir + "/e.index")
        let back = try EmbeddingIndex.read(dir + "/e.index")
        XCTAssertEqual(back.count, 0)
        XCTAssertEqual(back.root, "")
    }

    func testEveryTruncationIsRefused() throws {
        let dir = try temporaryDirectory()
        try sample(dim: 4, count: 3).write(to: dir + "/a.index")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.index"))
        for n in 0..<bytes.count {
            let path = dir + "/t.index"
            try bytes.prefix(n).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try EmbeddingIndex.read(path), "\(n) of \(bytes.count) bytes") { e in
                XCTAssertTrue(e is EmbeddingIndexError, "\(n) bytes: \(e)")
            }
        }
    }

    func testEveryFlippedByteIsRefused() throws {
        let dir = try temporaryDirectory()
        try sample(dim: 4, count: 3).write(to: dir + "/a.index")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/a.index")))
        for i in bytes.indices {
            var bad = bytes
            bad[i] ^= 0x40
            let path = dir + "/f.index"
            try Data(bad).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try EmbeddingIndex.read(path), "byte \(i) flipped") { e in
                XCTAssertTrue(e is EmbeddingIndexError, "byte \(i): \(e)")
            }
        }
    }

    /// Header fields that lie, each with a valid checksum so only the bounds checks stand between
    /// the lie and an allocation.
    func testLyingHeadersAreRefusedBeforeAllocating() throws {
        let dir = try temporaryDirectory()
        let index = try sample(dim: 4, count: 3)
        try index.write(to: dir + "/a.index")
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/a.index")))
        let storedRoot = index.storedRoot(forIndexAt: dir + "/a.index")  // relative to dir
        func patched(_ offset: Int, _ value: UInt32) -> [UInt8] { good.indexPatched(offset, value) }
        let cases: [(String, [UInt8], String)] = [
            ("count = 2^32-1", patched(20, .max), "claims"),
            ("count one too many", patched(20, 4), "needs"),
            ("dim = 2^32-1", patched(16, .max), "dim"),
            ("dim = 0", patched(16, 0), "dim"),
            ("root length = 2^32-1", patched(24, .max), "root length"),
            ("first path length = 2^31", patched(28 + storedRoot.utf8.count, 1 << 31), "path length"),
            ("version 3", patched(8, 3), "format version 3; this pocketclip reads versions 1 to 2"),
            ("version 0", patched(8, 0), "format version 0"),
        ]
        for (name, bytes, mention) in cases {
            let path = dir + "/lie.index"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let growth = try PeakMemory.growth {
                XCTAssertThrowsError(try EmbeddingIndex.read(path), name) { e in
                    XCTAssertTrue("\(e)".contains(mention), "\(name): '\(e)' should mention '\(mention)'")
                }
            }
            if let growth { XCTAssertLessThan(growth, maxIndexReadGrowth, name) }
        }
        XCTAssertThrowsError(try EmbeddingIndex.read(fixture("tiny-openclip", "images", "rgb_40x54.png"))) { e in
            XCTAssertEqual(e as? EmbeddingIndexError, .notAnIndex(path: fixture("tiny-openclip", "images", "rgb_40x54.png")))
        }
    }

    func testAppendChecksItsInput() throws {
        var index = try EmbeddingIndex(modelFingerprint: 1, dim: 3, root: "/r")
        XCTAssertThrowsError(try index.append(path: "a.png", stamp: FileStamp(size: 1, modifiedNanoseconds: 1), embedding: [1, 2]))
        XCTAssertThrowsError(try index.append(path: "", stamp: FileStamp(size: 1, modifiedNanoseconds: 1), embedding: [1, 2, 3]))
        XCTAssertThrowsError(try EmbeddingIndex(modelFingerprint: 1, dim: 0, root: "/r"))
        XCTAssertThrowsError(try EmbeddingIndex(modelFingerprint: 1, dim: EmbeddingIndex.maxDim + 1, root: "/r"))
    }
}

/// Building over a folder with the tiny fixture model converted to .pclip.
final class EmbeddingIndexBuildTests: XCTestCase {
    struct Stop: Error {}

    let images = ["rgb_40x54.png", "gray_31x31.png", "rgba_67x20.png"].map { fixture("tiny-openclip", "images", $0) }

    func model(dtype: WeightDType = .q8) throws -> CLIPModel {
        let c = try CheckpointLoader.load(fixture("tiny-openclip"),
                                          options: CheckpointOptions(tokenizerPath: fixture("tokenizer", "bpe_simple_vocab_16e6.txt.gz")))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("index-model-\(UUID().uuidString).pclip").path
        try PclipConverter.convert(c, to: path, options: ConvertOptions(dtype: dtype))
        addTeardownBlock { unlink(path) }
        return try CLIPModel.load(pclip: path, towers: .vision)
    }

    /// A folder of `n` images (the three fixtures, repeated under new names) in a subfolder tree,
    /// plus a text file and a hidden file the build must ignore.
    func folder(_ n: Int) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("index-folder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        for i in 0..<n {
            try FileManager.default.copyItem(atPath: images[i % 3], toPath: dir + (i % 2 == 0 ? "/" : "/sub/") + "img\(i).PNG")
        }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        try FileManager.default.copyItem(atPath: images[0], toPath: dir + "/.hidden.png")
        return dir
    }

    func testInterruptedBuildContinuesWhereItStopped() throws {
        let m = try model()
        let dir = try folder(7)
        let out = dir + ".index"
        addTeardownBlock { unlink(out) }
        var options = IndexBuildOptions()
        (options.batchSize, options.saveEvery) = (2, 2)

        // Stop after the second batch (4 images, saved): the file holds those 4.
        var batches = 0
        XCTAssertThrowsError(try EmbeddingIndex.build(model: m, folder: dir, output: out, options: options) { _ in
            batches += 1
            if batches == 2 { throw Stop() }
        })
        XCTAssertEqual(try EmbeddingIndex.load(out, for: m).count, 4)

        let rest = try EmbeddingIndex.build(model: m, folder: dir, output: out, options: options)
        XCTAssertEqual(rest.total, 7)
        XCTAssertEqual(rest.unchanged, 4)
        XCTAssertEqual(rest.embedded, 3)

        // The same as one uninterrupted build, entry for entry.
        let resumed = try EmbeddingIndex.load(out, for: m)
        let fresh = dir + ".fresh.index"
        addTeardownBlock { unlink(fresh) }
        try EmbeddingIndex.build(model: m, folder: dir, output: fresh)
        let whole = try EmbeddingIndex.load(fresh, for: m)
        XCTAssertEqual(Set(resumed.paths), Set(whole.paths))
        XCTAssertEqual(whole.paths, ["img0.PNG", "img2.PNG", "img4.PNG", "img6.PNG", "sub/img1.PNG", "sub/img3.PNG", "sub/img5.PNG"])
        for (i, p) in whole.paths.enumerated() {
            let j = resumed.paths.firstIndex(of: p)!
            XCTAssertEqual(Array(resumed.embedding(at: j)), Array(whole.embedding(at: i)), p)
        }
        // Image-to-image: each file finds itself (or an identical copy) at cosine 1.
        // Normalized twice, dotted over E = 16 in float32: |score − 1| ≤ (14 + 16)u = 1.8e-6 (a batch
        // embedding that differs in rounding by δ ~ 1e-6 costs ½‖δ‖² < 1e-11 more).
        let hit = try whole.search(try m.embedImage(path: dir + "/sub/img1.PNG"), topK: 1)[0]
        XCTAssertEqual(hit.score, 1, accuracy: 1e-5)
    }

    func testChangedVanishedAndUndecodableFiles() throws {
        let m = try model()
        let dir = try folder(3)
        let out = dir + ".index"
        addTeardownBlock { unlink(out) }
        try EmbeddingIndex.build(model: m, folder: dir, output: out)
        // img0 replaced by another picture (new size and mtime), img2 removed, a broken PNG added.
        try FileManager.default.removeItem(atPath: dir + "/img0.PNG")
        try FileManager.default.copyItem(atPath: images[2], toPath: dir + "/img0.PNG")
        try FileManager.default.removeItem(atPath: dir + "/img2.PNG")
        try Data("\u{89}PNG not really".utf8).write(to: URL(fileURLWithPath: dir + "/broken.png"))
        let r = try EmbeddingIndex.build(model: m, folder: dir, output: out)
        XCTAssertEqual(r.total, 3)
        XCTAssertEqual(r.removed, 2, "img0 changed, img2 gone")
        XCTAssertEqual(r.unchanged, 1)
        XCTAssertEqual(r.embedded, 1)
        XCTAssertEqual(r.undecodable.map(\.path), ["broken.png"])
        let index = try EmbeddingIndex.load(out, for: m)
        XCTAssertEqual(index.paths.sorted(), ["img0.PNG", "sub/img1.PNG"])
        let img0 = index.paths.firstIndex(of: "img0.PNG")!
        XCTAssertEqual(Array(index.embedding(at: img0)), ZeroShot.normalized(try m.embedImage(path: images[2])),
                       "the changed file was embedded again")
    }

    func testAnotherModelOrFolderIsRefused() throws {
        let m = try model()
        let other = try model(dtype: .f32)
        XCTAssertNotEqual(m.fingerprint, other.fingerprint)
        let dir = try folder(2)
        let out = dir + ".index"
        addTeardownBlock { unlink(out) }
        try EmbeddingIndex.build(model: m, folder: dir, output: out)
        XCTAssertThrowsError(try EmbeddingIndex.load(out, for: other)) { e in
            XCTAssertTrue("\(e)".contains("another model"), "\(e)")
        }
        XCTAssertThrowsError(try EmbeddingIndex.build(model: other, folder: dir, output: out)) { e in
            XCTAssertTrue("\(e)".contains("another model"), "\(e)")
        }
        let second = try folder(1)
        XCTAssertThrowsError(try EmbeddingIndex.build(model: m, folder: second, output: out)) { e in
            guard case .otherFolder? = e as? EmbeddingIndexError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(try EmbeddingIndex.load(out, for: m).count, 2, "a refused build leaves the index as it was")
    }
}
