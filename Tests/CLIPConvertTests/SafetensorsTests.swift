// The safetensors reader: exact dtype conversion (fixture from tools/goldens/make-fixtures.py) and
// a specific error — never a crash or a huge allocation — for each kind of corrupt header.

import CLIPConvert
import CLIPFormat
import CLIPSupport
import CorpusSupport
import Foundation
import XCTest

/// Writes a safetensors file from a header string and a data section.
func writeSafetensors(_ path: String, header: String, data: [UInt8], declaredLength: UInt64? = nil) throws {
    let h = Array(header.utf8)
    var bytes: [UInt8] = []
    let n = declaredLength ?? UInt64(h.count)
    for i in 0..<8 { bytes.append(UInt8((n >> (8 * UInt64(i))) & 0xFF)) }
    bytes += h + data
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

final class SafetensorsTests: XCTestCase {
    func testDtypesConvertExactly() throws {
        let file = try SafetensorsFile(path: fixtures + "/safetensors/dtypes.safetensors")
        let expected = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/safetensors/dtypes.json"))) as! [String: Any]
        for name in ["f32", "f16", "bf16", "scalar"] {
            let entry = expected[name] as! [String: Any]
            let bits = (entry["float32_bits"] as! [String]).map { UInt32($0.dropFirst(2), radix: 16)! }
            let t = try file.floatTensor(name)
            XCTAssertEqual(t.shape, entry["shape"] as! [Int], name)
            XCTAssertEqual(t.values.map(\.bitPattern), bits, "\(name): every value bit-exact, signed zeros included")
        }
        XCTAssertThrowsError(try file.floatTensor("i64")) { e in
            XCTAssertEqual(e as? SafetensorsError, .notFloat(path: file.path, tensor: "i64", dtype: "I64"))
        }
        XCTAssertThrowsError(try file.floatTensor("nope")) { e in
            XCTAssertEqual(e as? SafetensorsError, .noSuchTensor(path: file.path, tensor: "nope"))
        }
    }

    func testHalfConversionCoversEveryExponent() {
        // Every finite f16 value must round-trip through Float → Float16 rounding-free arithmetic:
        // compare against the value computed from the definition.
        for h in UInt16(0)...UInt16(0x7BFF) {
            let e = Int(h >> 10), m = Double(h & 0x3FF)
            let expected = e == 0 ? m * pow(2, -24) : (1 + m / 1024) * pow(2, Double(e - 15))
            XCTAssertEqual(Double(floatFromHalf(h)), expected, "half 0x\(String(h, radix: 16))")
            XCTAssertEqual(floatFromHalf(h | 0x8000), -floatFromHalf(h))
        }
        XCTAssertEqual(floatFromHalf(0x7C00), .infinity)
        XCTAssertTrue(floatFromHalf(0x7E00).isNaN)
    }

    /// Each corrupt header and the error it must give.
    func testCorruptHeadersGiveSpecificErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let data = [UInt8](repeating: 0, count: 8)
        func expectError(_ name: String, header: String, data: [UInt8], declared: UInt64? = nil,
                         _ check: (SafetensorsError) -> Bool, line: UInt = #line) throws {
            let path = dir + "/" + name + ".safetensors"
            try writeSafetensors(path, header: header, data: data, declaredLength: declared)
            XCTAssertThrowsError(try SafetensorsFile(path: path), name, line: line) { e in
                guard let se = e as? SafetensorsError else { return XCTFail("\(name): unexpected \(e)", line: line) }
                XCTAssertTrue(check(se), "\(name): got \(se)", line: line)
                XCTAssertFalse(se.description.isEmpty)
            }
        }
        // Sanity: the good file opens.
        try writeSafetensors(dir + "/good.safetensors", header: good, data: data)
        XCTAssertEqual(try SafetensorsFile(path: dir + "/good.safetensors").floatTensor("a").values, [0, 0])

        try expectError("length-past-end", header: good, data: data, declared: 1 << 40) {
            if case .headerLength = $0 { return true }; return false
        }
        try expectError("length-huge", header: good, data: data, declared: UInt64.max) {
            if case .headerLength = $0 { return true }; return false
        }
        try expectError("not-json", header: "{nope", data: data) {
            if case .headerJSON = $0 { return true }; return false
        }
        try expectError("not-object", header: "[1,2]  ", data: data) {
            if case .headerJSON = $0 { return true }; return false
        }
        try expectError("duplicate-key", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: data) {
            if case .headerJSON(_, let d) = $0 { return d.contains("duplicate") }; return false
        }
        try expectError("unknown-dtype", header: #"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: data) {
            if case .badEntry(_, "a", let d) = $0 { return d.contains("F33") }; return false
        }
        try expectError("offsets-past-end", header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: data) {
            if case .badEntry(_, "a", let d) = $0 { return d.contains("outside") }; return false
        }
        try expectError("span-mismatch", header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: data) {
            if case .badEntry(_, "a", let d) = $0 { return d.contains("needs") }; return false
        }
        try expectError("absurd-shape", header: #"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}}"#, data: data) {
            if case .badEntry(_, "a", _) = $0 { return true }; return false
        }
        try expectError("overflowing-shape", header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}"#, data: data) {
            if case .badEntry(_, "a", _) = $0 { return true }; return false
        }
        try expectError("negative-dim", header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: data) {
            if case .badEntry(_, "a", _) = $0 { return true }; return false
        }
        try expectError("reversed-offsets", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: data) {
            if case .badEntry(_, "a", _) = $0 { return true }; return false
        }
        try expectError("overlap", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: data) {
            if case .overlap = $0 { return true }; return false
        }
        try expectError("missing-offsets", header: #"{"a":{"dtype":"F32","shape":[2]}}"#, data: data) {
            if case .badEntry(_, "a", _) = $0 { return true }; return false
        }
        try expectError("deep-nesting", header: "{\"__metadata__\":" + String(repeating: "[", count: 10_000) + "}", data: data) {
            if case .headerJSON = $0 { return true }; return false
        }
        // Shorter than the 8-byte length prefix.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/tiny.safetensors"))
        XCTAssertThrowsError(try SafetensorsFile(path: dir + "/tiny.safetensors")) { e in
            XCTAssertEqual(e as? SafetensorsError, .tooSmall(path: dir + "/tiny.safetensors", size: 3))
        }
    }

    /// Cutting a real checkpoint anywhere gives an error, never a crash.
    func testTruncatedCheckpointAtManyPoints() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/safetensors/dtypes.safetensors"))
        for cut in stride(from: 0, to: source.count, by: 7) {
            let path = dir + "/cut\(cut).safetensors"
            try source.prefix(cut).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SafetensorsFile(path: path), "cut at \(cut) of \(source.count)")
        }
    }

    func testMissingFile() {
        XCTAssertThrowsError(try SafetensorsFile(path: "/nonexistent/model.safetensors")) { e in
            guard case .cannotOpen? = e as? FileError else { return XCTFail("unexpected \(e)") }
        }
    }
}
