import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CLIPSupport
import Foundation
import XCTest

/// Tests/Fixtures, found from this file's path so tests run from any working directory.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

func fixture(_ parts: String...) -> String { ([fixtures] + parts).joined(separator: "/") }

/// Golden tensors dumped by tools/make_fixtures.py (all F32).
final class Golden {
    let file: SafetensorsFile
    init(_ path: String) throws { file = try SafetensorsFile(path: path) }

    func tensor(_ name: String) throws -> (shape: [Int], values: [Float]) { try file.floatTensor(name) }

    /// Row `i` of the first dimension.
    func row(_ name: String, _ i: Int) throws -> [Float] {
        let t = try tensor(name)
        let size = t.values.count / t.shape[0]
        return Array(t.values[(i * size)..<((i + 1) * size)])
    }
}

struct Comparison {
    let maxAbsDiff: Float
    let cosine: Double
}

func compare(_ a: [Float], _ b: [Float]) -> Comparison {
    precondition(a.count == b.count, "compared arrays differ in length: \(a.count) vs \(b.count)")
    var maxDiff: Float = 0
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices {
        maxDiff = max(maxDiff, abs(a[i] - b[i]))
        dot += Double(a[i]) * Double(b[i])
        na += Double(a[i]) * Double(a[i])
        nb += Double(b[i]) * Double(b[i])
    }
    let cosine = (na == 0 && nb == 0) ? 1 : dot / (na.squareRoot() * nb.squareRoot())
    return Comparison(maxAbsDiff: maxDiff, cosine: cosine)
}

/// The worst agreement `assertClose` has seen since the last reset, so a check can print the
/// figure it measured (not only pass or fail).
enum ParityRecord {
    nonisolated(unsafe) static var worstMaxAbs: Float = 0
    nonisolated(unsafe) static var worstCosine: Double = 1
    static func reset() { worstMaxAbs = 0; worstCosine = 1 }
}

func assertClose(_ actual: [Float], _ expected: [Float], maxAbs: Float, minCosine: Double = 0,
                 _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(what): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    let c = compare(actual, expected)
    ParityRecord.worstMaxAbs = max(ParityRecord.worstMaxAbs, c.maxAbsDiff)
    ParityRecord.worstCosine = min(ParityRecord.worstCosine, c.cosine)
    XCTAssertLessThanOrEqual(c.maxAbsDiff, maxAbs, "\(what): max abs diff", file: file, line: line)
    XCTAssertGreaterThanOrEqual(c.cosine, minCosine, "\(what): cosine", file: file, line: line)
}

extension XCTestCase {
    /// A fresh directory under the system temporary one, removed when the test ends.
    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runtime-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}

extension Array where Element == UInt8 {
    /// These bytes followed by their CRC-32, little-endian (the index's trailer).
    func withCRC() -> [UInt8] {
        let crc = CLIPSupport.crc32(self)
        return self + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
    }

    /// An index file's bytes with the u32 at `offset` replaced and the trailing CRC-32 made right
    /// again, so only the reader's bounds checks stand between the lie and an allocation.
    func indexPatched(_ offset: Int, _ value: UInt32) -> [UInt8] {
        var b = Array(dropLast(4))
        for k in 0..<4 { b[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
        return b.withCRC()
    }
}
