// FolderDataset: each bad-row kind skipped with its line and reason, all-bad is an error, the
// shipped example's counts, pixels identical to CLIPImage's preprocessing, seeded batches.

import CLIPImage
import CLIPTrain
import CLIPTrainData
import Foundation
import XCTest

final class FolderDatasetTests: XCTestCase {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/train-your-own")

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("folderdataset-\(getpid())-\(name.filter(\.isLetter))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("img"), withIntermediateDirectories: true)
        // Two real PNGs from the shipped example, a garbage "PNG" and a truncated one.
        for name in ["small-red-circle", "large-blue-square"] {
            try FileManager.default.copyItem(at: Self.example.appendingPathComponent("images/\(name).png"),
                                             to: dir.appendingPathComponent("img/\(name).png"))
        }
        try Data("not an image".utf8).write(to: dir.appendingPathComponent("img/garbage.png"))
        let png = try Data(contentsOf: Self.example.appendingPathComponent("images/small-red-circle.png"))
        try png.prefix(60).write(to: dir.appendingPathComponent("img/truncated.png"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String = "captions.tsv") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testEachBadRowKindIsSkippedWithItsLineAndReason() throws {
        let path = try write("""
            image\tcaption
            img/small-red-circle.png\ta red circle
            img/nothere.png\ta missing image
            img/large-blue-square.png\t
            img/garbage.png\tgarbage bytes
            img/truncated.png\ta truncated png
            just one field
            img/small-red-circle.png\ta second caption for the circle
            img\ta directory
            """)
        let data = try FolderDataset(captionsFile: path, imageSize: 32)
        XCTAssertEqual(data.count, 2)
        XCTAssertEqual(data.distinctImages, 1)  // the circle, decoded once for both captions
        XCTAssertEqual(data.captions, ["a red circle", "a second caption for the circle"])
        XCTAssertEqual(data.skipped.map(\.line), [3, 4, 5, 6, 7, 9])
        XCTAssertEqual(data.skipped[0].reason, .missingImage(path: dir.path + "/img/nothere.png"))
        XCTAssertEqual(data.skipped[1].reason, .emptyCaption)
        for (i, expected) in [(2, "not a PNG, JPEG or WebP"), (3, "truncated"), (5, "not a regular file")] {
            guard case let .undecodableImage(_, detail) = data.skipped[i].reason else { XCTFail("\(data.skipped[i])"); continue }
            XCTAssertTrue(detail.contains(expected), detail)
        }
        guard case .malformedRow = data.skipped[4].reason else { return XCTFail("\(data.skipped[4])") }
        XCTAssertTrue(data.summary.contains("2 pairs from 1 images; 6 rows skipped:"), data.summary)
        XCTAssertTrue(data.summary.contains("line 3: missing image"), data.summary)
    }

    func testNoUsableRowIsAnErrorNamingTheReasons() throws {
        let path = try write("img/nothere.png\ta\nimg/garbage.png\tb\nimg/small-red-circle.png\t\n")
        XCTAssertThrowsError(try FolderDataset(captionsFile: path, imageSize: 32)) { error in
            guard case CaptionDataError.noUsableRows(_, let skipped) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(skipped.map(\.line), [1, 2, 3])
            let message = "\(error)"
            XCTAssertTrue(message.contains("all 3 rows were skipped") && message.contains("line 1: missing image"), message)
        }
        let empty = try write("\n\n", "empty.jsonl")
        XCTAssertThrowsError(try FolderDataset(captionsFile: empty, imageSize: 32)) { error in
            XCTAssertTrue("\(error)".contains("the file has no rows"), "\(error)")
        }
    }

    func testBadArgumentsThrow() throws {
        let path = try write("img/small-red-circle.png\ta red circle\n")
        XCTAssertThrowsError(try FolderDataset(captionsFile: path, imageSize: 0))
        XCTAssertThrowsError(try FolderDataset(captionsFile: path, imageSize: 32, std: [1, 0, 1]))
        let data = try FolderDataset(captionsFile: path, imageSize: 32)
        var rng = SeededNormal(seed: 1)
        XCTAssertThrowsError(try data.trainingBatch(batchSize: 0, rng: &rng))
    }

    /// The pixels are CLIPImage's preprocessing of the file, bit for bit (what `pocketclip embed` sees).
    func testPixelsAreCLIPImagePreprocessing() throws {
        let path = try write("img/large-blue-square.png\tsquare\nimg/small-red-circle.png\tcircle\n")
        let mean: [Float] = [0.5, 0.4, 0.3], std: [Float] = [0.2, 0.25, 0.3]
        let data = try FolderDataset(captionsFile: path, imageSize: 24, mean: mean, std: std)
        for (i, name) in ["large-blue-square", "small-red-circle"].enumerated() {
            let expected = try Preprocessor.pixels(path: dir.path + "/img/\(name).png",
                                                   config: PreprocessConfig(size: 24, mean: mean, std: std))
            XCTAssertEqual(data.image(i), expected)
        }
    }

    func testBatchesAreSeededAndPairImagesWithTheirCaptions() throws {
        let data = try FolderDataset(captionsFile: Self.example.appendingPathComponent("captions.tsv").path, imageSize: 32)
        var a = SeededNormal(seed: 7), b = SeededNormal(seed: 7), c = SeededNormal(seed: 8)
        let first = try data.trainingBatch(batchSize: 12, rng: &a)
        let again = try data.trainingBatch(batchSize: 12, rng: &b)
        let other = try data.trainingBatch(batchSize: 12, rng: &c)
        XCTAssertEqual(first.images, again.images)
        XCTAssertEqual(first.captions, again.captions)
        XCTAssertNotEqual(first.captions, other.captions)
        XCTAssertEqual(first.images.count, 12 * 3 * 32 * 32)
        // Each image in the batch is the one its caption's row names.
        let plane = 3 * 32 * 32
        for (k, caption) in first.captions.enumerated() {
            let row = try XCTUnwrap(data.rows.firstIndex { $0.caption == caption })
            XCTAssertEqual(Array(first.images[(k * plane)..<((k + 1) * plane)]), data.image(row), caption)
        }
        // The next batch continues the stream rather than repeating it.
        let second = try data.trainingBatch(batchSize: 12, rng: &a)
        XCTAssertNotEqual(second.captions, first.captions)
    }

    /// Both sources train through the one protocol.
    func testSourcesConformToTrainingSource() throws {
        let data = try FolderDataset(captionsFile: Self.example.appendingPathComponent("captions.tsv").path, imageSize: 16)
        let pixels = (0..<(3 * 16)).map { UInt8($0 * 5) }
        let idx: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 4] + pixels  // 3 images of 4×4
        let garments = try FashionMNISTSource(images: IDXReader.parseImages(idx), labels: [0, 1, 2],
                                              generator: CaptionGenerator(canvas: 16))
        for source in [data, garments] as [any TrainingSource] {
            var rng = SeededNormal(seed: 3)
            let batch = try source.trainingBatch(batchSize: 5, rng: &rng)
            XCTAssertEqual(batch.images.count, 5 * 3 * source.imageSize * source.imageSize)
            XCTAssertEqual(batch.captions.count, 5)
            XCTAssertEqual(source.mean, FolderDataset.clipMean)
        }
        // The wrapper is the generator's own batch for the same draws.
        var r1 = SeededNormal(seed: 4), r2 = SeededNormal(seed: 4)
        let wrapped = try garments.trainingBatch(batchSize: 6, rng: &r1)
        let direct = try garments.generator.trainingBatch(images: garments.images, labels: garments.labels, batchSize: 6, rng: &r2)
        XCTAssertEqual(wrapped.images, direct.images)
        XCTAssertEqual(wrapped.captions, direct.captions)
    }
}
