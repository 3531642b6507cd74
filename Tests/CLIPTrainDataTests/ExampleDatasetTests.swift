// The example shipped in examples/train-your-own loads with the counts its README states, from
// either captions file, and reports each deliberately bad row.

import CLIPTrain
import CLIPTrainData
import Foundation
import XCTest

final class ExampleDatasetTests: XCTestCase {
    func load(_ name: String) throws -> FolderDataset {
        try FolderDataset(captionsFile: FolderDatasetTests.example.appendingPathComponent(name).path, imageSize: 32)
    }

    func testTSVExample() throws {
        let data = try load("captions.tsv")
        XCTAssertEqual(data.count, 32)
        XCTAssertEqual(data.distinctImages, 30)
        XCTAssertEqual(data.skipped.map(\.line), [35, 36, 37, 38])
        let root = FolderDatasetTests.example.path
        XCTAssertEqual(data.skipped[0].reason, .missingImage(path: root + "/images/missing-green-hexagon.png"))
        XCTAssertEqual(data.skipped[1].reason, .emptyCaption)
        guard case .undecodableImage(root + "/broken.png", _) = data.skipped[2].reason else { return XCTFail("\(data.skipped[2])") }
        guard case .malformedRow = data.skipped[3].reason else { return XCTFail("\(data.skipped[3])") }
        // The report the README shows.
        XCTAssertTrue(data.summary.hasSuffix("captions.tsv: 32 pairs from 30 images; 4 rows skipped:\n"
            + "  line 35: missing image '\(root)/images/missing-green-hexagon.png'\n  line 36: empty caption\n"
            + "  line 37: undecodable image '\(root)/broken.png': not a PNG, JPEG or WebP image (first bytes: 74 68 69 73 20 69 73 20 6e 6f 74 20); "
            + "expected a file starting with the PNG signature 89 50 4e 47, the JPEG marker ff d8 ff or RIFF....WEBP. Convert the image to PNG, JPEG or WebP first.\n"
            + "  line 38: malformed row: expected at least 2 tab-separated fields (the header puts the image in column 1 and the caption "
            + "in column 2), found 1; a caption may not contain a tab"), data.summary)
        XCTAssertEqual(data.rows.first, CaptionRow(line: 2, imagePath: root + "/images/small-red-circle.png", caption: "a small red circle"))
    }

    func testJSONLExampleListsTheSamePairs() throws {
        let tsv = try load("captions.tsv"), jsonl = try load("captions.jsonl")
        XCTAssertEqual(jsonl.rows.map(\.imagePath), tsv.rows.map(\.imagePath))
        XCTAssertEqual(jsonl.captions, tsv.captions)
        XCTAssertEqual(jsonl.skipped.count, 5)
        XCTAssertEqual(jsonl.skipped.map(\.line), [34, 35, 36, 37, 38])
        var a = SeededNormal(seed: 1), b = SeededNormal(seed: 1)
        XCTAssertEqual(try jsonl.trainingBatch(batchSize: 8, rng: &a).images, try tsv.trainingBatch(batchSize: 8, rng: &b).images)
    }
}
