// The model-config maxima (CLIPConfig.max*) and the prompt limits (PromptTemplates.max*) of the
// README's "Safety and limits" at their edges: the value at the limit passes, limit + 1 is refused
// with the documented error. validate() runs before anything is sized from a config, so no
// tensor of these sizes is ever made here. The embedding index's limits (EmbeddingIndex.max*)
// are at the end.

import CLIPFormat
import CLIPRuntime
import CorpusSupport
import XCTest

final class ConfigLimitEdgeTests: XCTestCase {
    /// A small valid config; each case changes one number.
    let base = CLIPConfig(
        vision: VisionConfig(imageSize: 32, patchSize: 1, tower: TowerConfig(width: 64, layers: 2, heads: 1, mlpWidth: 256)),
        text: TextConfig(vocabularySize: 1000, contextLength: 77, tower: TowerConfig(width: 64, layers: 2, heads: 1, mlpWidth: 256)),
        embedDim: 32, activation: .quickGELU)

    /// `set` applied with the limit passes validate(); with limit + 1 it throws invalidConfig
    /// whose message names the value and the limit.
    func assertEdge(_ what: String, limit: Int, _ set: (inout CLIPConfig, Int) -> Void,
                    file: StaticString = #filePath, line: UInt = #line) {
        var c = base
        set(&c, limit)
        XCTAssertNoThrow(try c.validate(), "\(what) = \(limit) (the limit) must pass", file: file, line: line)
        set(&c, limit + 1)
        XCTAssertThrowsError(try c.validate(), "\(what) = \(limit + 1) must be refused", file: file, line: line) {
            guard case .invalidConfig(let message)? = $0 as? ModelError else { return XCTFail("\($0)", file: file, line: line) }
            XCTAssertTrue(message.contains("\(limit + 1)") && message.contains("\(limit)"),
                          "'\(message)' should name \(limit + 1) and the limit \(limit)", file: file, line: line)
        }
    }

    func testEveryConfigMaximumAtItsEdge() {
        XCTAssertEqual([CLIPConfig.maxWidth, CLIPConfig.maxLayers, CLIPConfig.maxMLPWidth, CLIPConfig.maxImageSize,
                        CLIPConfig.maxVocabulary, CLIPConfig.maxContext], [16_384, 256, 65_536, 4_096, 1 << 20, 4_096],
                       "the README's table")
        assertEdge("vision width", limit: CLIPConfig.maxWidth) { $0.vision.tower.width = $1 }
        assertEdge("text width", limit: CLIPConfig.maxWidth) { $0.text.tower.width = $1 }
        assertEdge("vision layers", limit: CLIPConfig.maxLayers) { $0.vision.tower.layers = $1 }
        assertEdge("text layers", limit: CLIPConfig.maxLayers) { $0.text.tower.layers = $1 }
        assertEdge("vision MLP", limit: CLIPConfig.maxMLPWidth) { $0.vision.tower.mlpWidth = $1 }
        assertEdge("text MLP", limit: CLIPConfig.maxMLPWidth) { $0.text.tower.mlpWidth = $1 }
        assertEdge("image size", limit: CLIPConfig.maxImageSize) { $0.vision.imageSize = $1 }  // patch 1 divides both
        assertEdge("vocabulary", limit: CLIPConfig.maxVocabulary) { $0.text.vocabularySize = $1 }
        assertEdge("context", limit: CLIPConfig.maxContext) { $0.text.contextLength = $1 }
        assertEdge("embedding width", limit: CLIPConfig.maxWidth) { $0.embedDim = $1 }
    }
}

final class PromptLimitEdgeTests: XCTestCase {
    func assertInvalidInput(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            XCTAssertEqual($0 as? ModelError, .invalidInput(expected), file: file, line: line)
        }
    }

    func testLabelCountLimit() throws {
        XCTAssertEqual(PromptTemplates.maxLabels, 100_000)
        let labels = (0..<PromptTemplates.maxLabels).map { "c\($0)" }
        let prompts = try CLIPModel.prompts(labels: labels, template: "a photo of a {}.")
        XCTAssertEqual(prompts.count, PromptTemplates.maxLabels)
        XCTAssertEqual(prompts.last, "a photo of a c99999.")
        assertInvalidInput("100001 labels (limit 100000)") { _ = try CLIPModel.prompts(labels: labels + ["one more"], template: "{}") }
    }

    func testTemplateCountLimit() throws {
        XCTAssertEqual(PromptTemplates.maxTemplates, 256)
        let templates = (0..<PromptTemplates.maxTemplates).map { "photo \($0) of a {}." }
        XCTAssertNoThrow(try PromptTemplates.validate(templates))
        assertInvalidInput("257 templates (limit 256)") { try PromptTemplates.validate(templates + ["one more {}"]) }
    }
}

/// The `.index` file's limits (EmbeddingIndex.maxDim, maxEntries, maxPathBytes) at their edges,
/// through `parse(bytes:path:)`, the code `read`/`load` run. Files are built here field by field
/// with a valid CRC, so only the field under test is out of line. A count at the limit is only
/// claimed: the check after it (the bytes that follow cannot hold that many entries) refuses it
/// before anything is reserved, which shows the limit check itself passed.
final class IndexLimitEdgeTests: XCTestCase {
    /// An index file: header, root, `entries` (path and `dim` floats each), CRC-32. `count`
    /// overrides the entry count the header claims.
    func indexBytes(dim: Int = 2, root: String = "/r", entries: [String] = [], count: Int? = nil) -> [UInt8] {
        func le(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        var b = EmbeddingIndex.magic + le(EmbeddingIndex.version) + le(0xC0FFEE11)
        b += le(UInt32(dim)) + le(UInt32(count ?? entries.count)) + le(UInt32(root.utf8.count)) + Array(root.utf8)
        for path in entries {
            b += le(UInt32(path.utf8.count)) + Array(path.utf8) + [UInt8](repeating: 0, count: 16)
            for k in 0..<dim { b += le(Float(k == 0 ? 1 : 0).bitPattern) }
        }
        return b.withCRC()
    }

    /// Parsing `bytes` throws EmbeddingIndexError.corrupt whose message contains `text`.
    func assertCorrupt(_ bytes: [UInt8], _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try EmbeddingIndex.parse(bytes: bytes, path: "x.index"), file: file, line: line) {
            guard case .corrupt("x.index", let detail)? = $0 as? EmbeddingIndexError else {
                return XCTFail("expected corrupt, got \($0)", file: file, line: line)
            }
            XCTAssertTrue(detail.contains(text), "'\(detail)' should contain '\(text)'", file: file, line: line)
        }
    }

    func assertInvalid(_ text: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            guard case .invalid(let message)? = $0 as? EmbeddingIndexError else { return XCTFail("\($0)", file: file, line: line) }
            XCTAssertTrue(message.contains(text), "'\(message)' should contain '\(text)'", file: file, line: line)
        }
    }

    func testBaseIndexParses() throws {
        let index = try EmbeddingIndex.parse(bytes: indexBytes(entries: ["a.png"]), path: "x.index")
        XCTAssertEqual([index.dim, index.count], [2, 1])
        XCTAssertEqual(index.paths, ["a.png"])
    }

    /// An empty index of the largest dim is a whole, valid file (64 KiB per entry would follow).
    func testDimLimit() throws {
        XCTAssertEqual(EmbeddingIndex.maxDim, 16_384)
        let n = EmbeddingIndex.maxDim
        XCTAssertEqual(try EmbeddingIndex.parse(bytes: indexBytes(dim: n), path: "x.index").dim, n)
        XCTAssertEqual(try EmbeddingIndex(modelFingerprint: 1, dim: n, root: "/r").dim, n)
        assertCorrupt(indexBytes(dim: n + 1), "dim 16385 (the embedding size) is outside 1...16384")
        assertInvalid("embedding size 16385 is outside 1...16384") { _ = try EmbeddingIndex(modelFingerprint: 1, dim: n + 1, root: "/r") }
    }

    /// A header claiming exactly maxEntries passes the count limit and is then refused because
    /// the file cannot hold them — before any reservation (peak RSS checked). One more is refused
    /// by the limit itself.
    func testEntryCountLimit() {
        XCTAssertEqual(EmbeddingIndex.maxEntries, 100_000_000)
        let n = EmbeddingIndex.maxEntries
        let growth = PeakMemory.growth {
            assertCorrupt(indexBytes(count: n), "header claims 100000000 entries of ≥29 bytes but only 0 bytes follow")
        }
        if let growth { XCTAssertLessThan(growth, maxIndexReadGrowth) }
        assertCorrupt(indexBytes(count: n + 1), "header claims 100000001 entries, more than the 100000000 an index holds")
    }

    /// A root and an entry path of exactly maxPathBytes are stored, read and accepted; one byte
    /// more is refused by the reader and by the in-memory API that builds indexes.
    func testPathLengthLimit() throws {
        XCTAssertEqual(EmbeddingIndex.maxPathBytes, 4096)
        let n = EmbeddingIndex.maxPathBytes
        let root = "/" + String(repeating: "r", count: n - 1), path = String(repeating: "p", count: n - 4) + ".png"
        let index = try EmbeddingIndex.parse(bytes: indexBytes(root: root, entries: [path]), path: "x.index")
        XCTAssertEqual(index.root, root)
        XCTAssertEqual(index.paths, [path])
        assertCorrupt(indexBytes(root: root + "r", entries: [path]), "root length 4097 is outside 0...4096 bytes")
        assertCorrupt(indexBytes(root: root, entries: [path + "x"]), "entry 0 path length 4097 is outside 1...4096 bytes")

        var built = try EmbeddingIndex(modelFingerprint: 1, dim: 2, root: root)
        try built.append(path: path, stamp: FileStamp(size: 1, modifiedNanoseconds: 1), embedding: [1, 0])
        XCTAssertEqual(built.paths, [path])
        assertInvalid("folder path is 4097 bytes, more than the 4096") { _ = try EmbeddingIndex(modelFingerprint: 1, dim: 2, root: root + "r") }
        assertInvalid("is 4097 bytes, outside 1...4096") {
            try built.append(path: path + "x", stamp: FileStamp(size: 1, modifiedNanoseconds: 1), embedding: [1, 0])
        }
    }
}
