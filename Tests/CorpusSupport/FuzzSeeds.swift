// The fuzz targets' committed seed corpora (Fuzz/corpus/<target>/): written by the real writers
// when POCKETCLIP_WRITE_FUZZ_SEEDS=1, otherwise checked against what those writers make now.

import Foundation
import XCTest

public enum FuzzSeeds {
    public static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus").path
    public static var regenerating: Bool { ProcessInfo.processInfo.environment["POCKETCLIP_WRITE_FUZZ_SEEDS"] == "1" }

    public static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Writes `seeds` into Fuzz/corpus/`target` (replacing what is there) when regenerating;
    /// otherwise checks that the committed corpus holds exactly these file names.
    public static func commit(_ seeds: [(name: String, bytes: [UInt8])], target: String) throws {
        let dir = corpus + "/" + target
        if regenerating {
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for s in seeds { try Data(s.bytes).write(to: URL(fileURLWithPath: dir + "/" + s.name)) }
        }
        let committed = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(committed, seeds.map(\.name).sorted(),
                       "Fuzz/corpus/\(target) is stale: regenerate it (POCKETCLIP_WRITE_FUZZ_SEEDS=1 and the seed test: command at the top of its file)")
        // The writers are deterministic, so the bytes must match too, not just the names.
        for s in seeds where committed.contains(s.name) {
            XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + s.name))), s.bytes,
                           "Fuzz/corpus/\(target)/\(s.name) is stale: regenerate it (POCKETCLIP_WRITE_FUZZ_SEEDS=1 and the seed test: command at the top of its file)")
        }
    }

}
