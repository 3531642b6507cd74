// The committed bad-file corpus (formats/bad/, made by tools/make_pclip_bad_corpus.py) against
// CLIPModel.load(pclip:), the layer that checks the metadata's schema and config and the tensors
// against them (formats/pclip.md, validation steps 3 and 5). Every bad file, container faults
// included, must make the load throw the manifest's error without crashing or allocating what the
// file merely implies. Tests/CLIPFormatTests/BadFileCorpusTests.swift covers the container alone.

import CLIPFormat
import CLIPRuntime
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One row of formats/bad/manifest.json.
private struct BadCase: Decodable {
    let name: String
    let file: String
    let what: String
    let expect: String
    let error: String?
    let messageContains: String?
    let layer: String?

    enum CodingKeys: String, CodingKey {
        case name = "case", file, what, expect, error, messageContains = "message_contains", layer
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("formats/bad").path

    static func all() throws -> [BadCase] {
        struct Manifest: Decodable { let cases: [BadCase] }
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        return try JSONDecoder().decode(Manifest.self, from: data).cases
    }

    var path: String { Self.directory + "/" + file }
    var label: String { "[\(name)] (\(what))" }
}

/// "ModelError.shapeMismatch" for `ModelError.shapeMismatch(...)`.
private func errorCaseName(_ error: Error) -> String {
    let type = String(describing: Swift.type(of: error))
    if let label = Mirror(reflecting: error).children.first?.label { return "\(type).\(label)" }
    if let e = error as? PclipError, e == .badMagic { return "PclipError.badMagic" }  // the one case without a payload
    return type
}

/// VmHWM, reset per case (`echo 5 > /proc/self/clear_refs`) so the case that allocates is named.
private enum PeakMemory {
    static func reset() -> Bool {
        // Give freed heap pages back first: memory an earlier case freed but malloc kept resident
        // would otherwise be reused without raising RSS, hiding the next case's allocation.
        trimHeap(0)
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// glibc's malloc_trim, which the Glibc module does not import (looked up once).
    private static let trimHeap: @convention(c) (Int) -> Int32 = {
        guard let symbol = dlsym(nil, "malloc_trim") else { return { _ in 0 } }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    static func bytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
            return kib * 1024
        }
        var ru = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
        return Int(ru.ru_maxrss) * 1024
    }
}

final class BadModelFileTests: XCTestCase {
    /// Peak-RSS growth allowed while loading one corpus file. The valid micro model decodes to
    /// ~10 KB of floats; 32 MiB is room for the allocator and XCTest, and fails a loader that
    /// allocates what a config implies before checking that the file holds it.
    static let maxPeakGrowthBytes = 32 << 20

    /// Cases that crash the test process today, so they are not run in-process (a crash would end
    /// the whole run): `CLIPModel.load` builds zero tensors of every shape the config implies
    /// (`CLIPWeights.zeros`, Sources/CLIPRuntime/PclipModel.swift:207) before comparing them with
    /// the file, and a width of 2^30 asks for terabytes. Tests/CLITests/BadPclipCLITests.swift runs
    /// them in a child process. Remove a name once the loader handles it.
    static let knownCrashers: Set<String> = []

    private func load(_ path: String) throws -> CLIPModel {
        // Vision only: the corpus model has no text tower (and so no tokenizer).
        try CLIPModel.load(pclip: path, towers: .vision)
    }

    func testValidFilesLoad() throws {
        for c in try BadCase.all() where c.expect == "valid" {
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
        let cases = try BadCase.all().filter { $0.expect == "error" && !Self.knownCrashers.contains($0.name) }
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
        for c in try BadCase.all() where !Self.knownCrashers.contains(c.name) {
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
