// The committed bad-file corpus (formats/bad/, made by tools/goldens/make-pclip-bad-corpus.py)
// against the container reader: each file must give the error its manifest names, with the named
// text in its message, never crash, and never allocate more than a small bound however large the
// sizes it declares. Model-level cases (layer "model") must pass the whole container, verifyAll
// included: Tests/CLIPRuntimeTests/BadModelFileTests.swift checks that CLIPModel.load catches them.

import CLIPFormat
import CLIPSupport
import CorpusSupport
import Foundation
import XCTest

/// Runs `body` and checks it throws the case's error with the case's text in its message.
func assertThrowsExpected(_ c: BadCase, _ step: String, _ body: () throws -> Void,
                          file: StaticString = #filePath, line: UInt = #line) {
    do {
        try body()
        XCTFail("\(c.label): \(step) threw nothing; expected \(c.expected)", file: file, line: line)
    } catch {
        let thrown = errorCaseName(error), message = "\(error)"
        if thrown != c.error || !message.contains(c.messageContains ?? "") {
            XCTFail("\(c.label): \(step)\n  expected \(c.expected)\n  thrown   \(thrown): \(message)", file: file, line: line)
        }
    }
}

final class BadFileCorpusTests: XCTestCase {
    /// Peak-RSS growth allowed while reading one bad file. The largest file is 26 KB and the
    /// largest tensor any of them really holds decodes to 1.6 KB; 32 MiB leaves room for the
    /// allocator and XCTest while failing any attempt to honour a declared size (the corpus
    /// declares up to 2^64 - 1 bytes, 4 TiB tensors and 4 MiB zstd expansions).
    static let maxPeakGrowthBytes = 32 << 20

    func testManifestNamesEveryFileOnce() throws {
        let cases = try BadCorpus.cases()
        XCTAssertEqual(Set(cases.map(\.name)).count, cases.count, "case names must be unique")
        let listed = Set(cases.map(\.file))
        let present = Set(try FileManager.default.contentsOfDirectory(atPath: BadCorpus.directory).filter { $0.hasSuffix(".pclip") })
        XCTAssertEqual(present.subtracting(listed), [], "files in formats/bad missing from manifest.json")
        XCTAssertEqual(listed.subtracting(present), [], "manifest.json names files that do not exist")
        for c in cases where !c.isValid {
            XCTAssertNotNil(c.error, "\(c.label): no expected error")
            XCTAssertFalse((c.messageContains ?? "").isEmpty, "\(c.label): no expected message text")
            XCTAssertTrue(["container", "model"].contains(c.layer ?? ""), "\(c.label): layer \(c.layer ?? "nil")")
            XCTAssertTrue(["open", "payload", "model"].contains(c.stage ?? ""), "\(c.label): stage \(c.stage ?? "nil")")
        }
        // The base the corpus mutates must be there, and valid (testValidFilesOpenAndVerify).
        XCTAssertTrue(cases.contains { $0.name == "base-valid" && $0.isValid })
    }

    /// Every required case, one by one, so a regenerated corpus cannot silently drop one.
    func testCorpusCoversTheIssueList() throws {
        let names = Set(try BadCorpus.cases().map(\.name))
        let required = [
            // truncation of the header and at/in each section (payloads below)
            "truncate-empty", "truncate-header-32", "truncate-at-metadata", "truncate-mid-metadata",
            "truncate-at-directory", "truncate-mid-directory", "truncate-after-directory", "truncate-last-byte",
            // single bit flips, CRCs not fixed
            "bitflip-magic", "bitflip-header-metadata_offset", "bitflip-header-header_crc32", "bitflip-metadata-middle",
            "bitflip-directory-middle", "bitflip-payload-raw-vision.class_embed", "bitflip-payload-zstd-vision.patch_embed",
            // sizes and offsets past the end or overlapping
            "metadata-offset-past-eof", "metadata-size-past-eof", "directory-offset-past-eof", "directory-size-past-eof",
            "directory-overlaps-metadata", "entry-offset-past-eof", "entry-overlaps-payload", "entry-overlaps-directory",
            "entry-raw-misaligned", "entry-decoded-size-lies-raw", "entry-decoded-size-lies-zstd",
            // absurd shapes and counts
            "dims-2^62", "dims-product-overflows-64-bits", "dims-zero", "dims-rank-5", "tensor-count-2^32-1",
            "tensor-count-plus-one", "tensor-count-minus-one",
            // unknown codes and versions
            "entry-dtype-0", "entry-dtype-9", "entry-compression-7", "version-2.0", "valid-minor-1.5", "flags-bit0",
            "entry-reserved-1",
            // names
            "name-duplicate", "name-empty", "name-not-utf8", "name-length-300",
            // tensors against the config, and the config itself
            "tensor-missing", "tensor-extra-unknown", "tensor-shape-proj-4x9", "config-width-not-divisible-by-heads",
            // metadata
            "metadata-not-json", "metadata-not-object", "schema-missing-model", "schema-width-string",
            "metadata-duplicate-key", "metadata-nesting-10000",
            // zstd frames
            "zstd-content-size-larger", "zstd-content-size-smaller", "zstd-decompresses-to-more",
            "zstd-decompresses-to-fewer", "zstd-no-content-size", "zstd-trailing-bytes", "zstd-two-frames", "zstd-not-zstd",
            // q8 and bytes rules
            "entry-q8-group-not-dividing-k", "entry-bytes-rank-2",
        ]
        XCTAssertEqual(required.filter { !names.contains($0) }, [], "required cases are missing from the manifest")
        // Truncation at the start and in the middle of every payload of the base file.
        let tensorCount = try PclipFile(path: BadCorpus.directory + "/base-valid.pclip").tensors.count
        for i in 0..<tensorCount {
            for at in ["start", "middle"] {
                let name = "truncate-payload-\(i < 10 ? "0" : "")\(i)-\(at)"
                XCTAssertTrue(names.contains(name), "no truncation at the \(at) of payload \(i) (\(name))")
            }
        }
    }

    func testValidFilesOpenAndVerify() throws {
        for c in try BadCorpus.cases() where c.isValid {
            do {
                let f = try PclipFile(path: c.path)
                try f.verifyAll()
                XCTAssertEqual(f.tensors.count, 20, "\(c.label): the micro vision tower has 20 tensors")
                XCTAssertEqual(f.metadata["model"]?["vision"]?["width"]?.int, 8, c.label)
                if c.name == "valid-minor-1.5" { XCTAssertEqual(f.versionMinor, 5, c.label) }
            } catch {
                XCTFail("\(c.label): a valid file was refused: \(errorCaseName(error)): \(error)")
            }
        }
    }

    func testOpenStageCasesAreRefusedWhenOpened() throws {
        let cases = try BadCorpus.cases().filter { $0.layer == "container" && $0.stage == "open" }
        XCTAssertGreaterThan(cases.count, 0)
        for c in cases {
            assertThrowsExpected(c, "PclipFile(path:)") { _ = try PclipFile(path: c.path) }
        }
    }

    func testPayloadStageCasesOpenThenFailVerification() throws {
        let cases = try BadCorpus.cases().filter { $0.layer == "container" && $0.stage == "payload" }
        XCTAssertGreaterThan(cases.count, 0)
        for c in cases {
            let f: PclipFile
            do { f = try PclipFile(path: c.path) } catch {
                XCTFail("\(c.label): a payload fault must pass opening (only verifyAll reads payloads), but it threw \(errorCaseName(error)): \(error)")
                continue
            }
            assertThrowsExpected(c, "verifyAll()") { try f.verifyAll() }
        }
    }

    /// Model-level faults live in a sound container: otherwise the model check is never reached.
    func testModelStageCasesPassTheWholeContainer() throws {
        let cases = try BadCorpus.cases().filter { $0.layer == "model" }
        XCTAssertGreaterThan(cases.count, 0)
        for c in cases {
            do {
                try PclipFile(path: c.path).verifyAll()
            } catch {
                XCTFail("\(c.label): the container should accept this file (the model must catch it), but it threw \(errorCaseName(error)): \(error)")
            }
        }
    }

    /// The meter the bound relies on sees a 2 × bound allocation (so the bound test can fail).
    func testPeakMemoryMeterSeesAnAllocation() {
        _ = PeakMemory.reset()
        let before = PeakMemory.bytes()
        let count = 2 * Self.maxPeakGrowthBytes
        let p = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        defer { p.deallocate() }
        p.initializeMemory(as: UInt8.self, repeating: 1, count: count)  // touch every page
        XCTAssertGreaterThan(PeakMemory.bytes() - before, Self.maxPeakGrowthBytes)
    }

    func testReadingEachFileStaysWithinAMemoryBound() throws {
        let resettable = PeakMemory.reset()
        let start = PeakMemory.bytes()
        var worst = (growth: 0, name: "")
        for c in try BadCorpus.cases() {
            if resettable { _ = PeakMemory.reset() }
            let before = PeakMemory.bytes()
            if let f = try? PclipFile(path: c.path) { try? f.verifyAll() }
            let growth = PeakMemory.bytes() - before
            if growth > worst.growth { worst = (growth, c.name) }
            XCTAssertLessThanOrEqual(growth, Self.maxPeakGrowthBytes,
                                     "\(c.label): reading it raised peak RSS by \(growth) bytes (bound \(Self.maxPeakGrowthBytes))")
        }
        let total = PeakMemory.bytes() - start
        XCTAssertLessThanOrEqual(total, Self.maxPeakGrowthBytes, "peak RSS grew by \(total) bytes over the whole corpus")
        print("bad corpus: peak RSS growth per file at most \(worst.growth) bytes (\(worst.name)); per-case reset: \(resettable)")
    }
}
