// The tokenizer's file limits of the README's "Safety and limits" at their edges: a vocabulary
// file of at most VocabularyFiles.maxFileBytes (512 MB) and at most Gunzip.maxOutputBytes
// (256 MB) once gunzipped. The text limit (77 tokens with SOT and EOT, 78 refused) is held by
// VocabularyTests.testExactly77TokensIsNotTooLong.
//
// Neither limit can be reached for real without allocating it: a file at the size limit is read
// whole, and gunzipped bytes are real output. So the size check is tested at its exact edge as a
// function (and end to end at limit + 1 with a sparse file, refused before any read), and the
// gunzip cap at its exact edge with a caller's limit on the real vocabulary file.

import CLIPSupport
@testable import CLIPTokenizer
import Foundation
import CorpusSupport
import XCTest

final class TokenizerLimitEdgeTests: XCTestCase {
    func testVocabularyFileSizeLimit() throws {
        XCTAssertEqual(VocabularyFiles.maxFileBytes, 512 << 20)
        XCTAssertNoThrow(try VocabularyFiles.checkSize(VocabularyFiles.maxFileBytes, path: "v", expected: "a vocabulary"))
        XCTAssertThrowsError(try VocabularyFiles.checkSize(VocabularyFiles.maxFileBytes + 1, path: "v", expected: "a vocabulary")) {
            XCTAssertEqual($0 as? TokenizerError, .unreadableFile(path: "v", reason: "536870913 bytes, more than 512 MB; expected a vocabulary"))
        }
    }

    /// Every way in (open_clip's merges file, an HF directory) refuses a sparse file one byte over
    /// the limit from its size, before reading it.
    func testOversizedVocabularyFilesAreRefusedBeforeReading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-limits-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func sparse(_ name: String) throws -> String {
            try makeSparseFile(dir + "/" + name, head: Array("{}".utf8), size: VocabularyFiles.maxFileBytes + 1)
        }
        for (path, load) in [(try sparse("bpe.txt.gz"), { try CLIPTokenizer.load(bpeFile: dir + "/bpe.txt.gz") }),
                             (try sparse("vocab.json"), { try CLIPTokenizer.load(huggingFaceDirectory: dir) })] {
            XCTAssertThrowsError(try load()) {
                guard case .unreadableFile(path, let reason)? = $0 as? TokenizerError else { return XCTFail("\($0)") }
                XCTAssertTrue(reason.hasPrefix("536870913 bytes, more than 512 MB"), reason)
            }
        }
    }

    /// The real merges file gunzips to D bytes: with a cap of exactly D it is read, with D - 1 it
    /// is refused. The default cap is the documented 256 MB.
    func testGunzipOutputLimit() throws {
        XCTAssertEqual(Gunzip.maxOutputBytes, 256 << 20)
        let gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz")))
        let full = try VocabularyFiles.gunzip(gz, path: "bpe")
        XCTAssertEqual(try VocabularyFiles.gunzip(gz, path: "bpe", limit: full.count), full)
        XCTAssertThrowsError(try VocabularyFiles.gunzip(gz, path: "bpe", limit: full.count - 1)) {
            XCTAssertEqual($0 as? TokenizerError, .unreadableFile(
                path: "bpe", reason: "decompresses to more than \(full.count - 1) bytes (\((full.count - 1) >> 20) MB); not a vocabulary file"))
        }
    }
}
