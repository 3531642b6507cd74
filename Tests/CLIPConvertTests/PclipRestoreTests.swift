// Re-storing a .pclip file (PclipRestore): the bundled model to raw and back keeps every tensor's
// decoded bytes, the metadata section and the embeddings exactly; choices that need the float
// weights are refused; the input itself may be the output; a damaged input leaves it untouched.

import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CLIPSupport
import CorpusSupport
import Foundation
import XCTest

final class PclipRestoreTests: XCTestCase {
    static let repository = URL(fileURLWithPath: fixtures).deletingLastPathComponent().deletingLastPathComponent().path
    static let bundled = repository + "/models/pocketclip-fmnist.pclip"

    /// Two files hold the same model: the same tensors in the same order with the same dtype,
    /// dims and group, the same decoded bytes, the same metadata bytes and minor version.
    func assertSameModel(_ a: PclipFile, _ b: PclipFile, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(a.metadataBytes, b.metadataBytes, "metadata byte for byte", file: file, line: line)
        XCTAssertEqual(a.versionMinor, b.versionMinor, file: file, line: line)
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name), file: file, line: line)
        for (x, y) in zip(a.tensors, b.tensors) {
            XCTAssertEqual([Int(x.dtype.rawValue), x.groupSize], [Int(y.dtype.rawValue), y.groupSize], x.name, file: file, line: line)
            XCTAssertEqual(x.dims, y.dims, x.name, file: file, line: line)
            let bytesA = try a.data(x.name).withUnsafeBytes { Array($0) }
            let bytesB = try b.data(y.name).withUnsafeBytes { Array($0) }
            XCTAssertTrue(bytesA == bytesB, "\(x.name): decoded bytes differ", file: file, line: line)
        }
    }

    func testBundledModelToRawAndBackIsBitForBit() throws {
        let dir = try temporaryDirectory()
        let raw = dir + "/raw.pclip", back = dir + "/back.pclip", direct = dir + "/direct.pclip"
        let summary = try PclipRestore.restore(Self.bundled, to: raw, options: RestoreOptions(compress: false))
        try PclipRestore.restore(raw, to: back, options: RestoreOptions(compress: true, zstdLevel: 3))
        let original = try PclipFile(path: Self.bundled), rawFile = try PclipFile(path: raw), backFile = try PclipFile(path: back)
        XCTAssertEqual(summary.tensorCount, original.tensors.count)
        XCTAssertEqual(summary.fileBytes, rawFile.fileSize)
        try assertSameModel(original, rawFile)
        try assertSameModel(original, backFile)
        // Raw means raw for every weight; the tokenizer's text stays zstd, as convert writes it.
        for t in rawFile.tensors {
            XCTAssertEqual(t.compression, t.dtype == .bytes ? .zstd : .raw, t.name)
            if t.compression == .raw { XCTAssertTrue(try rawFile.data(t.name).isMapped, t.name) }
        }
        XCTAssertTrue(backFile.tensors.allSatisfy { $0.compression == .zstd })
        // The writer is deterministic: through raw and back gives the very bytes of a direct
        // re-store at the same level (zstd's output is the same for the same input and level).
        try PclipRestore.restore(Self.bundled, to: direct)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: back)), try Data(contentsOf: URL(fileURLWithPath: direct)))

        // The same model: identical embeddings, to the bit, for a few example images and a text.
        let a = try CLIPModel.load(pclip: Self.bundled, threads: 1), b = try CLIPModel.load(pclip: raw, threads: 1)
        XCTAssertEqual(a.config, b.config)
        for name in ["bag", "sneaker", "dress"] {
            let image = Self.repository + "/examples/images/\(name).png"
            XCTAssertEqual(try a.embedImage(path: image).map(\.bitPattern), try b.embedImage(path: image).map(\.bitPattern), name)
        }
        XCTAssertEqual(try a.embedText("a photo of a bag.").map(\.bitPattern), try b.embedText("a photo of a bag.").map(\.bitPattern))
    }

    /// Output = input: replaced only once the new file is whole. A damaged input fails on the
    /// damaged tensor's checksum and stays as it was, with no temporary left beside it.
    func testRestoringOntoItselfIsSafe() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/m.pclip"
        try FileManager.default.copyItem(atPath: Self.bundled, toPath: path)
        try PclipRestore.restore(path, to: path, options: RestoreOptions(compress: false))
        try assertSameModel(try PclipFile(path: Self.bundled), try PclipFile(path: path))
        XCTAssertTrue(try PclipFile(path: path).tensors.contains { $0.compression == .raw })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["m.pclip"])

        let original = try PclipFile(path: Self.bundled)
        let victim = original.tensors.first { $0.name == "vision.proj" } ?? original.tensors[original.tensors.count / 2]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.bundled)))
        bytes[victim.offset + victim.storedSize / 2] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try PclipRestore.restore(path, to: path, options: RestoreOptions(compress: false))) { e in
            XCTAssertTrue("\(e)".contains(victim.name), "\(e)")
        }
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), bytes, "the damaged input is left as it was")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["m.pclip"], "no temporary left")
    }

    /// A file of a newer minor version keeps it, and the metadata keys that version added.
    func testNewerMinorVersionAndUnknownKeysAreKept() throws {
        let dir = try temporaryDirectory()
        let metadata = Array(#"{"model":{"x":1},"added_by_1_3":[1.5,"é"]}"#.utf8)
        let writer = PclipWriter(metadataBytes: metadata, versionMinor: 3)
        try writer.add(name: "w", dtype: .q8, dims: [2, 4], groupSize: 2, compression: .zstd,
                       decoded: Q8.encode([1, -2, 3, -4, 0.5, 0.25, -8, 7], k: 4, groupSize: 2))
        try writer.add(name: "b", dtype: .f16, dims: [3], compression: .raw, decoded: [0, 60, 0, 188, 255, 123])
        try writer.write(to: dir + "/in.pclip")
        try PclipRestore.restore(dir + "/in.pclip", to: dir + "/out.pclip", options: RestoreOptions(compress: false))
        let out = try PclipFile(path: dir + "/out.pclip")
        XCTAssertEqual(out.versionMinor, 3)
        XCTAssertEqual(out.metadataBytes, metadata)
        try assertSameModel(try PclipFile(path: dir + "/in.pclip"), out)
    }

    /// The choices only float weights can change: accepted when they are the file's own,
    /// refused with the file's value and what to do when they differ or are not recorded.
    func testChoicesThatNeedTheFloatWeights() throws {
        let file = try PclipFile(path: Self.bundled)
        XCTAssertNoThrow(try PclipRestore.check([.dtype: "q8", .group: "0", .textGroup: "128", .activation: "quick_gelu",
                                                 .cropRounding: "openclip"], against: file))
        for (choice, value, recorded) in [(ConversionChoice.dtype, "f16", "q8"), (.activation, "gelu", "quick_gelu"),
                                          (.group, "64", "0"), (.textScales, "amax", "mse"), (.cropRounding, "hf", "openclip")] {
            XCTAssertThrowsError(try PclipRestore.check([choice: value], against: file)) { e in
                XCTAssertEqual(e as? RestoreError, .needsFloatWeights(input: Self.bundled, flag: choice.flag, asked: value, recorded: recorded))
                XCTAssertTrue("\(e)".hasSuffix("convert the float checkpoint again with \(choice.flag) \(value)"), "\(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
        }
        // A file whose metadata says nothing of how it was made (not a converter's output).
        let dir = try temporaryDirectory()
        let writer = PclipWriter(metadata: .object([("model", .object([]))]))
        try writer.add(name: "b", dtype: .f32, dims: [1], compression: .raw, decoded: [0, 0, 128, 63])
        try writer.write(to: dir + "/bare.pclip")
        XCTAssertThrowsError(try PclipRestore.check([.dtype: "q8"], against: try PclipFile(path: dir + "/bare.pclip"))) { e in
            XCTAssertTrue("\(e)".contains("does not record its --dtype"), "\(e)")
        }
    }
}
