// Fixtures.swift — locating and reading Tests/Fixtures/images (written by
// tools/goldens/image-goldens.py).
import Foundation
import XCTest

enum Fixtures {
    /// Tests/Fixtures/images, found from this file's path (CI has no Python; the files are committed).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    static func floats(_ relative: String) throws -> [Float] {
        let b = try bytes(relative)
        return b.withUnsafeBytes { raw in
            (0..<(b.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) }
        }
    }

    struct Case: Decodable {
        let name: String
        let input: String
        let size: Int
        let order: String
        let expected: String
        let jpeg: Bool
        let mode: String
        let resized: [Int]
        let cropRoundingDiffers: Bool
        let expectedFloat: String?
        let hfTorchvisionMaxDiff: Int?
        let decodedCRC: UInt32?
        let paletteCRC: UInt32?
    }

    struct ResizeCase: Decodable {
        let source: String
        let width: Int
        let height: Int
        let expected: String
        let channels: Int
    }

    struct Manifest: Decodable {
        let cases: [Case]
        let resize: [ResizeCase]
    }

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: root.appendingPathComponent("manifest.json")))
    }
}

/// Largest absolute difference between two equally long byte buffers.
func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
    zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
}
