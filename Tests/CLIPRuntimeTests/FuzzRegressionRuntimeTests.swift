// The seed corpus of the FuzzHead fuzz target (Fuzz/corpus/, docs/fuzzing.md),
// made by the real writers, and regressions for what fuzzing the class-head reader found.
//
// Regenerate the seeds (after a format change) with:
//
//     POCKETCLIP_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzRegressionRuntimeTests/testSeeds
//     POCKETCLIP_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzRegressionIndexTests/testSeeds  (the index's, in CLIPSearchTests)
//
// Without the variable the same tests check the committed seeds instead: every valid one loads,
// every damaged one is refused with an error naming what is wrong.

import CLIPFormat
import CorpusSupport
@testable import CLIPRuntime
import CLIPSupport
import Foundation
import XCTest

final class FuzzRegressionRuntimeTests: XCTestCase {
    /// The fingerprint the seeds record (FuzzHead checks against the same constant).
    static let seedFingerprint: UInt32 = 0x5EED_C11F
    /// A unit vector of `dim` values, different for each `k`.
    func unit(_ dim: Int, _ k: Int) -> [Float] {
        ZeroShot.normalized((0..<dim).map { Float(($0 * 5 + k * 3) % 7) - 2.5 })
    }

    // MARK: - Class heads

    /// A .pclip with a "head" metadata object (none when nil) and a `head.classes` tensor, written
    /// by PclipWriter as given, so each field can be made wrong while every checksum stays right.
    func headLike(_ dir: String, head: [(String, JSONValue)]?, dims: [Int], values: [Float],
                  compression: PclipCompression = .raw) throws -> [UInt8] {
        let producer: (String, JSONValue) = ("producer", .string("fuzz seed"))
        let writer = PclipWriter(metadata: .object(head.map { [("head", .object($0)), producer] } ?? [producer]))
        try writer.add(name: ClassHead.tensorName, dtype: .f32, dims: dims, compression: compression,
                       decoded: values.withUnsafeBytes { Array($0) })
        try writer.write(to: dir + "/h.pclip")
        return try FuzzSeeds.bytes(dir + "/h.pclip")
    }

    func headMetadata(labels: [JSONValue], embedDim: Int) -> [(String, JSONValue)] {
        [("labels", .array(labels)), ("templates", .array([.string("a photo of a {}.")])),
         ("embed_dim", .number(Double(embedDim))), ("logit_scale", .number(100)),
         ("model_fingerprint", .number(Double(Self.seedFingerprint)))]
    }

    /// Valid heads (by ClassHead.write) and damaged ones, each with what its error must mention.
    func headSeeds() throws -> (valid: [(name: String, bytes: [UInt8])], damaged: [(name: String, bytes: [UInt8], mention: String)]) {
        let dir = try temporaryDirectory()
        func written(_ labels: [String], _ templates: [String], dim: Int) throws -> [UInt8] {
            let head = ClassHead(labels: labels, templates: templates, embeddings: labels.indices.map { unit(dim, $0) },
                                 logitScale: 100, modelFingerprint: Self.seedFingerprint)
            try head.write(to: dir + "/w.head")
            return try FuzzSeeds.bytes(dir + "/w.head")
        }
        let pets = try written(["cat", "dog"], ["a photo of a {}."], dim: 4)
        let unicode = try written(["été", "a \"quoted\" \\ label", "🙂\u{1}"], ["{}", "a photo of a {}, a type of pet."], dim: 8)
        let strings: [JSONValue] = [.string("cat"), .string("dog")]
        let values = unit(4, 0) + unit(4, 1)
        var nan = values
        nan[5] = .nan
        return (
            valid: [
                ("pets-2x4.head", pets),
                ("unicode-3x8.head", unicode),
                ("zstd-2x4.head", try headLike(dir, head: headMetadata(labels: strings, embedDim: 4), dims: [2, 4], values: values, compression: .zstd)),
            ],
            damaged: [
                ("truncated.head", Array(pets.prefix(pets.count - 9)), "truncated"),
                ("labels-not-strings.head", try headLike(dir, head: headMetadata(labels: [.string("cat"), .number(7)], embedDim: 4),
                                                         dims: [2, 4], values: values), "incomplete metadata"),
                ("embed-dim-zero.head", try headLike(dir, head: headMetadata(labels: strings, embedDim: 0), dims: [2, 4], values: values),
                 "incomplete metadata"),
                ("dims-disagree.head", try headLike(dir, head: headMetadata(labels: strings, embedDim: 4), dims: [4, 2], values: values),
                 "expected [2, 4]"),
                ("nan-embedding.head", try headLike(dir, head: headMetadata(labels: strings, embedDim: 4), dims: [2, 4], values: nan),
                 "non-finite value for label 'dog'"),
                ("not-a-head.head", try headLike(dir, head: nil, dims: [2, 4], values: values), "not a class head"),
            ])
    }

    func testSeedsForFuzzHead() throws {
        let seeds = try headSeeds()
        try FuzzSeeds.commit(seeds.valid.map { ($0.name, $0.bytes) } + seeds.damaged.map { ($0.name, $0.bytes) }, target: "FuzzHead")
        let dir = FuzzSeeds.corpus + "/FuzzHead"
        for s in seeds.valid {
            let head = try ClassHead.parse(try PclipFile(path: dir + "/" + s.name), source: s.name)
            XCTAssertEqual(head.modelFingerprint, Self.seedFingerprint, s.name)
            let e = head.embeddings[0].count
            XCTAssertNoThrow(try head.check(modelFingerprint: Self.seedFingerprint, embedDim: e, source: s.name))
            XCTAssertThrowsError(try head.check(modelFingerprint: Self.seedFingerprint ^ 1, embedDim: e, source: s.name)) { error in
                XCTAssertTrue("\(error)".contains("another model"), "\(s.name): \(error)")
            }
            XCTAssertThrowsError(try head.check(modelFingerprint: Self.seedFingerprint, embedDim: e + 1, source: s.name))
        }
        for s in seeds.damaged {
            XCTAssertThrowsError(try ClassHead.parse(try PclipFile(path: dir + "/" + s.name), source: s.name), s.name) { error in
                XCTAssertTrue("\(error)".contains(s.mention), "\(s.name): '\(error)' should mention '\(s.mention)'")
            }
        }
    }
}
