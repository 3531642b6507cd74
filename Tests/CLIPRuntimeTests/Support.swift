import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CLIPSupport
import CorpusSupport
import Foundation
import XCTest

/// Golden tensors dumped by tools/goldens/make-fixtures.py (all F32).
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
