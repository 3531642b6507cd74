// The reader against formats/vectors/, written independently from the spec by
// tools/goldens/make-pclip-vectors.py (Python struct + zlib + zstandard, no Swift involved).

import CLIPFormat
import Foundation
import XCTest

let formats = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("formats").path

func hexBits(_ s: Any?) -> [UInt32] { (s as! [String]).map { UInt32($0, radix: 16)! } }

final class PclipVectorTests: XCTestCase {
    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: formats + "/vectors/" + name))) as! [String: Any]
    }

    func testTensorsVector() throws {
        let expected = try json("tensors.json")
        let file = try PclipFile(path: formats + "/vectors/tensors.pclip")
        XCTAssertEqual(file.fileSize, expected["file_size"] as? Int)
        XCTAssertEqual(file.versionMinor, UInt16(expected["version_minor"] as! Int))
        XCTAssertEqual(file.tensors.count, expected["tensor_count"] as? Int)
        XCTAssertNoThrow(try file.verifyAll())
        for entry in expected["tensors"] as! [[String: Any]] {
            let name = entry["name"] as! String
            let info = try file.info(name)
            XCTAssertEqual("\(info.dtype)", entry["dtype"] as? String, name)
            XCTAssertEqual("\(info.compression)", entry["compression"] as? String, name)
            XCTAssertEqual(info.dims, entry["dims"] as? [Int], name)
            XCTAssertEqual(info.groupSize, entry["group_size"] as? Int, name)
            XCTAssertEqual(info.offset, entry["offset"] as? Int, name)
            XCTAssertEqual(info.storedSize, entry["stored_size"] as? Int, name)
            XCTAssertEqual(info.decodedSize, entry["decoded_size"] as? Int, name)
            XCTAssertEqual(info.crc32, UInt32(entry["crc32"] as! String, radix: 16), name)
            let want = entry["expected"] as! [String: Any]
            switch info.dtype {
            case .f32, .f16:
                XCTAssertEqual(try file.floats(name).values.map(\.bitPattern), hexBits(want["bits"]), name)
            case .q8:
                let data = try file.data(name)
                let n = info.elementCount
                let q: [Int] = data.withUnsafeBytes { raw in (0..<n).map { Int(Int8(bitPattern: raw[$0])) } }
                XCTAssertEqual(q, want["q"] as? [Int], "\(name) int8 values")
                let scaleBits = hexBits(want["scale_bits"])
                let scales: [UInt32] = data.withUnsafeBytes { raw in
                    (0..<scaleBits.count).map { raw.loadUnaligned(fromByteOffset: Q8.scalesOffset(count: n) + 4 * $0, as: UInt32.self) }
                }
                XCTAssertEqual(scales, scaleBits, "\(name) scales")
                XCTAssertEqual(try file.floats(name).values.map(\.bitPattern), hexBits(want["dequantized_bits"]), "\(name) dequantized")
            case .bytes:
                let hexText = want["hex"] as! String
                var bytes: [UInt8] = []
                var i = hexText.startIndex
                while i < hexText.endIndex {
                    let j = hexText.index(i, offsetBy: 2)
                    bytes.append(UInt8(hexText[i..<j], radix: 16)!)
                    i = j
                }
                XCTAssertEqual(try file.bytes(name), bytes, name)
            }
        }
    }

    func testQuantizeVector() throws {
        let cases = try json("quantize.json")["cases"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 25)
        for c in cases {
            let name = c["name"] as! String
            let dims = c["dims"] as! [Int], group = c["group_size"] as! Int
            let input = hexBits(c["input_bits"]).map { Float(bitPattern: $0) }
            let out = Q8.encode(input, k: dims.last!, groupSize: group)
            let q = out[0..<input.count].map { Int(Int8(bitPattern: $0)) }
            XCTAssertEqual(q, c["expected_q"] as? [Int], "\(name): \(c["why"] ?? "")")
            let expectedScales = hexBits(c["expected_scale_bits"])
            let scales: [UInt32] = out.withUnsafeBytes { raw in
                (0..<expectedScales.count).map { raw.loadUnaligned(fromByteOffset: Q8.scalesOffset(count: input.count) + 4 * $0, as: UInt32.self) }
            }
            XCTAssertEqual(scales, expectedScales, "\(name) scales")
        }
    }
}
