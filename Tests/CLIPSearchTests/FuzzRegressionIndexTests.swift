// The seed corpus of the FuzzIndex fuzz target (Fuzz/corpus/FuzzIndex, docs/fuzzing.md), made by
// the real writer, and regressions for what fuzzing the index reader found.
//
// Regenerate the seeds (after a format change) with:
//
//     POCKETCLIP_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzRegressionIndexTests/testSeeds
//
// Without the variable the same test checks the committed seeds instead: every valid one loads,
// every damaged one is refused with an error naming what is wrong.

import CLIPFormat
import CLIPRuntime
import CLIPSearch
import CorpusSupport
import Foundation
import XCTest

final class FuzzRegressionIndexTests: XCTestCase {
    static let seedFingerprint: UInt32 = 0x5EED_C11F

    /// A unit vector of `dim` values, different for each `k`.
    func unit(_ dim: Int, _ k: Int) -> [Float] {
        ZeroShot.normalized((0..<dim).map { Float(($0 * 5 + k * 3) % 7) - 2.5 })
    }

    // MARK: - Embedding indexes

    func indexSeeds() throws -> (valid: [(name: String, bytes: [UInt8])], damaged: [(name: String, bytes: [UInt8], mention: String)]) {
        // Roots under the directory the seeds are written in, so that what is stored ("photos/été",
        // relative to it) is the same wherever the test runs.
        let dir = try temporaryDirectory(), base = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        func written(_ index: EmbeddingIndex) throws -> [UInt8] {
            try index.write(to: dir + "/w.index")
            return try FuzzSeeds.bytes(dir + "/w.index")
        }
        var photos = try EmbeddingIndex(modelFingerprint: Self.seedFingerprint, dim: 4, root: base + "/photos/été")
        for k in 0..<3 {
            try photos.append(path: "dir \(k)/img-\(k).png", stamp: FileStamp(size: Int64(1000 + k), modifiedNanoseconds: -5 + Int64(k) << 40),
                              embedding: unit(4, k))
        }
        var wide = try EmbeddingIndex(modelFingerprint: Self.seedFingerprint, dim: 16, root: base + "/r")
        try wide.append(path: "🙂.jpg", stamp: FileStamp(size: 0, modifiedNanoseconds: 0), embedding: unit(16, 1))
        var inside = try EmbeddingIndex(modelFingerprint: Self.seedFingerprint, dim: 4, root: base)  // stored "."
        try inside.append(path: "a.png", stamp: FileStamp(size: 7, modifiedNanoseconds: 7), embedding: unit(4, 2))
        let good = try written(photos)
        func patched(_ offset: Int, _ value: UInt32) -> [UInt8] { good.indexPatched(offset, value) }
        let firstFloat = 28 + "photos/été".utf8.count + 4 + "dir 0/img-0.png".utf8.count + 16
        var flipped = good
        flipped[30] ^= 0x40
        return (
            valid: [
                ("photos-3x4.index", good),
                ("wide-1x16.index", try written(wide)),
                ("inside-folder.index", try written(inside)),
                ("empty.index", try written(try EmbeddingIndex(modelFingerprint: Self.seedFingerprint, dim: 4, root: ""))),
                ("version-1-absolute-root.index", version1Bytes(photos, root: "/photos/été")),
            ],
            damaged: [
                ("truncated.index", Array(good.prefix(40)), "checksum"),
                ("flipped-byte.index", flipped, "checksum"),
                ("count-lie.index", patched(20, .max), "claims"),
                ("dim-zero.index", patched(16, 0), "dim 0"),
                ("nan.index", patched(firstFloat + 4, Float.nan.bitPattern), "non-finite"),
                ("version-3.index", patched(8, 3), "version 3"),
            ])
    }

    func testSeedsForFuzzIndex() throws {
        let seeds = try indexSeeds()
        try FuzzSeeds.commit(seeds.valid.map { ($0.name, $0.bytes) } + seeds.damaged.map { ($0.name, $0.bytes) }, target: "FuzzIndex")
        let dir = FuzzSeeds.corpus + "/FuzzIndex"
        for s in seeds.valid {
            let index = try EmbeddingIndex.read(dir + "/" + s.name)
            XCTAssertNoThrow(try index.check(modelFingerprint: Self.seedFingerprint, embedDim: index.dim, path: s.name))
            XCTAssertThrowsError(try index.check(modelFingerprint: nil, embedDim: index.dim, path: s.name))
        }
        for s in seeds.damaged {
            XCTAssertThrowsError(try EmbeddingIndex.read(dir + "/" + s.name), s.name) { error in
                XCTAssertTrue("\(error)".contains(s.mention), "\(s.name): '\(error)' should mention '\(s.mention)'")
            }
        }
    }
}
