// The committed bad-file corpus (formats/bad/, made by tools/goldens/make-pclip-bad-corpus.py)
// against CLIPModel.load(pclip:), the layer that checks the metadata's schema and config and the
// tensors against them (formats/pclip.md, validation steps 3 and 5). Every bad file, container
// faults included, must make the load throw the manifest's error without crashing or allocating
// what the file merely implies. Tests/CLIPFormatTests/BadFileCorpusTests.swift covers the container
// alone.

import CLIPFormat
import CLIPRuntime
import CLIPSupport
import CorpusSupport
import Foundation
import XCTest

final class BadModelFileTests: XCTestCase {
    /// Peak-RSS growth allowed while loading one corpus file. The valid micro model decodes to
    /// ~10 KB of floats; 32 MiB is room for the allocator and XCTest, and fails a loader that
    /// allocates what a config implies before checking that the file holds it.
    static let maxPeakGrowthBytes = 32 << 20

    /// Cases that would crash the test process, so they are not run in-process (a crash would end
    /// the whole run; Tests/CLITests/BadPclipCLITests.swift runs every case in a child process).
    /// Empty since the loader checks a value-free skeleton against bounded configs.
    static let knownCrashers: Set<String> = []

    private func load(_ path: String) throws -> CLIPModel {
        // Vision only: the corpus model has no text tower (and so no tokenizer).
        try CLIPModel.load(pclip: path, towers: .vision)
    }

    func testValidFilesLoad() throws {
        for c in try BadCorpus.cases() where c.expect == "valid" {
            do {
                let model = try load(c.path)
                XCTAssertEqual(model.config.vision.tower, TowerConfig(width: 8, layers: 1, heads: 2, mlpWidth: 32), c.label)
                XCTAssertEqual(model.config.embedDim, 4, c.label)
                XCTAssertEqual(model.logitScale, 4.6052, c.label)
                XCTAssertEqual(model.preprocess.size, 16, c.label)
                XCTAssertNotNil(model.vision, c.label)
                XCTAssertNil(model.text, c.label)
            } catch {
                XCTFail("\(c.label): a valid file was refused: \(errorCaseName(error)): \(error)")
            }
        }
    }

    func testNoCaseIsKnownToCrashTheLoader() {
        XCTAssertEqual(Self.knownCrashers, [], "reader bug: these corpus files crash CLIPModel.load (see knownCrashers)")
    }

    func testEveryBadFileFailsToLoadWithItsError() throws {
        let cases = try BadCorpus.cases().filter { $0.expect == "error" && !Self.knownCrashers.contains($0.name) }
        XCTAssertGreaterThan(cases.count, 150)
        for c in cases {
            do {
                _ = try load(c.path)
                XCTFail("\(c.label): CLIPModel.load accepted it; expected \(c.error ?? "") containing '\(c.messageContains ?? "")'")
            } catch {
                let thrown = errorCaseName(error), message = "\(error)"
                if thrown != c.error || !message.contains(c.messageContains ?? "") {
                    XCTFail("""
                        \(c.label): CLIPModel.load (layer \(c.layer ?? ""))
                          expected \(c.error ?? "") whose message contains '\(c.messageContains ?? "")'
                          thrown   \(thrown): \(message)
                        """)
                }
            }
        }
    }

    func testLoadingEachFileStaysWithinAMemoryBound() throws {
        let resettable = PeakMemory.reset()
        var worst = (growth: 0, name: "")
        for c in try BadCorpus.cases() where !Self.knownCrashers.contains(c.name) {
            if resettable { _ = PeakMemory.reset() }
            let before = PeakMemory.bytes()
            _ = try? load(c.path)
            let growth = PeakMemory.bytes() - before
            if growth > worst.growth { worst = (growth, c.name) }
            XCTAssertLessThanOrEqual(growth, Self.maxPeakGrowthBytes,
                                     "\(c.label): loading it raised peak RSS by \(growth) bytes (bound \(Self.maxPeakGrowthBytes))")
        }
        print("bad corpus: model load peak RSS growth at most \(worst.growth) bytes (\(worst.name)); per-case reset: \(resettable)")
    }
}
