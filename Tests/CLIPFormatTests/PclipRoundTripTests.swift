// The writer and reader agree with each other and with the spec's layout rules; the reference
// quantizer and the half conversions behave as the spec defines them.

import CLIPFormat
import Foundation
import XCTest

func scratchPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("pclip-\(UUID().uuidString)-\(name)").path
}

func bytes(of floats: [Float]) -> [UInt8] { floats.withUnsafeBytes { Array($0) } }

final class PclipRoundTripTests: XCTestCase {
    func sampleWriter() throws -> PclipWriter {
        let w = PclipWriter(metadata: .object([("test", .string("round trip")), ("n", .number(1.5))]))
        let f32: [Float] = [0, -0.0, 1.5, -3.25, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        try w.add(name: "a.f32.raw", dtype: .f32, dims: [2, 3], compression: .raw, decoded: bytes(of: f32))
        try w.add(name: "a.f32.zstd", dtype: .f32, dims: [6], compression: .zstd, decoded: bytes(of: f32))
        try w.add(name: "scalar", dtype: .f32, dims: [], compression: .raw, decoded: bytes(of: [42]))
        let halves: [UInt16] = [0x0000, 0x8000, 0x3E00, 0x7BFF, 0x0001]
        try w.add(name: "h", dtype: .f16, dims: [5], compression: .zstd, decoded: halves.withUnsafeBytes { Array($0) })
        let x: [Float] = (0..<24).map { Float($0) * 0.37 - 4 }
        try w.add(name: "q.channel", dtype: .q8, dims: [3, 8], groupSize: 8, compression: .raw, decoded: Q8.encode(x, k: 8, groupSize: 8))
        try w.add(name: "q.group4", dtype: .q8, dims: [3, 8], groupSize: 4, compression: .zstd, decoded: Q8.encode(x, k: 8, groupSize: 4))
        try w.add(name: "text", dtype: .bytes, dims: [6], compression: .zstd, decoded: Array("héllo".utf8))
        return w
    }

    func testWriteReadRoundTrip() throws {
        let path = scratchPath("rt.pclip")
        defer { unlink(path) }
        let summary = try sampleWriter().write(to: path)
        let file = try PclipFile(path: path)
        XCTAssertEqual(summary.fileBytes, file.fileSize)
        XCTAssertEqual(file.metadata["test"]?.string, "round trip")
        XCTAssertEqual(file.metadata["n"]?.number, 1.5)
        XCTAssertEqual(file.tensors.map(\.name), ["a.f32.raw", "a.f32.zstd", "scalar", "h", "q.channel", "q.group4", "text"])
        for t in file.tensors {
            XCTAssertEqual(t.offset % Pclip.alignment, 0, "\(t.name) is aligned")
        }
        let expected: [Float] = [0, -0.0, 1.5, -3.25, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        XCTAssertEqual(try file.floats("a.f32.raw").values.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(try file.floats("a.f32.zstd").values.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(try file.floats("a.f32.raw").dims, [2, 3])
        XCTAssertEqual(try file.floats("scalar").values, [42])
        XCTAssertEqual(try file.floats("scalar").dims, [])
        XCTAssertEqual(try file.floats("h").values, [0, -0.0, 1.5, 65504, 5.9604645e-08])
        XCTAssertTrue(try file.data("a.f32.raw").isMapped, "raw tensors are used in place")
        XCTAssertFalse(try file.data("a.f32.zstd").isMapped)
        XCTAssertEqual(try file.bytes("text"), Array("héllo".utf8))
        // q8 decodes to q · scale; each value within half a step of the input.
        let x: [Float] = (0..<24).map { Float($0) * 0.37 - 4 }
        for name in ["q.channel", "q.group4"] {
            let info = try file.info(name)
            let decoded = try file.floats(name).values
            let scaleCount = 24 / info.groupSize
            let data = try file.data(name)
            let scales: [Float] = data.withUnsafeBytes { raw in
                (0..<scaleCount).map { raw.loadUnaligned(fromByteOffset: 24 + 4 * $0, as: Float.self) }
            }
            for i in 0..<24 {
                XCTAssertLessThanOrEqual(abs(decoded[i] - x[i]), scales[i / info.groupSize] / 2 * 1.0001, "\(name)[\(i)]")
            }
        }
        XCTAssertNoThrow(try file.verifyAll())
    }

    func testSameInputSameBytes() throws {
        let a = scratchPath("a.pclip"), b = scratchPath("b.pclip")
        defer { unlink(a); unlink(b) }
        try sampleWriter().write(to: a)
        try sampleWriter().write(to: b)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
    }

    func testQuantizerDefinition() {
        // scale = amax/127; round half away from zero; zero groups stay zero; |q| ≤ 127.
        let x: [Float] = [127, 2.5, -2.5, 0.5, -127, 0, 0, 0]
        let out = Q8.encode(x, k: 4, groupSize: 4)
        let q = out[0..<8].map { Int8(bitPattern: $0) }
        XCTAssertEqual(q, [127, 3, -3, 1, -127, 0, 0, 0])
        let scales = out[8...].withUnsafeBytes { raw in (0..<2).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        XCTAssertEqual(scales, [1, 1])
        let zeros = Q8.encode([0, 0, 0, 0], k: 4, groupSize: 4)
        XCTAssertEqual(Array(zeros[0..<4]), [0, 0, 0, 0])
        XCTAssertEqual(zeros[4...].withUnsafeBytes { $0.loadUnaligned(as: Float.self) }, 0)
    }

    func testHalfConversionRoundTripsAndRounds() {
        for h in UInt16(0)...UInt16.max {
            let f = floatFromHalf(h)
            if f.isNaN { XCTAssertTrue(floatFromHalf(halfFromFloat(f)).isNaN); continue }
            XCTAssertEqual(halfFromFloat(f), h, "half 0x\(String(h, radix: 16)) round-trips")
        }
        // Ties go to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
        XCTAssertEqual(halfFromFloat(1 + 0x1p-11), 0x3C00)
        XCTAssertEqual(halfFromFloat(1 + 3 * 0x1p-11), 0x3C02)
        XCTAssertEqual(halfFromFloat(65520), 0x7C00, "rounds up past the largest half: infinity")
        XCTAssertEqual(halfFromFloat(65519), 0x7BFF)
        XCTAssertEqual(halfFromFloat(0x1p-25), 0, "half the smallest subnormal ties to even: zero")
        XCTAssertEqual(halfFromFloat(0x1.8p-25), 1)
    }
}
