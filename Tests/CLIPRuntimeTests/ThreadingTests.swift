// Results never depend on the thread count: work is split by output columns and attention
// heads, each computed by the same code whatever the split.

import CLIPConvert
import CLIPRuntime
import Foundation
import XCTest

final class ThreadingTests: XCTestCase {
    func testSameOutputForOneTwoAndThreeThreads() throws {
        let c = try CheckpointLoader.load(fixture("tiny-hf"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("threads-\(UUID().uuidString).pclip").path
        defer { unlink(path) }
        try PclipConverter.convert(c, to: path)
        let images = ["rgb_40x54.png", "gray_31x31.png", "rgba_67x20.png"].map { fixture("tiny-openclip", "images", $0) }
        for load in [{ (t: Int) in try CLIPModel.load(pclip: path, threads: t) },
                     { (t: Int) in try CLIPModel(config: c.config, weights: c.weights, preprocess: c.preprocess, tokenizer: c.tokenizer, threads: t) }] {
            let one = try load(1), two = try load(2), three = try load(3)
            XCTAssertEqual(two.pool.threads, 2)
            let reference = try one.embedImages(paths: images)
            XCTAssertEqual(try two.embedImages(paths: images), reference, "2 threads, batch of 3")
            XCTAssertEqual(try three.embedImages(paths: images), reference, "3 threads, batch of 3")
            // A batch gives each image exactly what it gets alone.
            for (i, image) in images.enumerated() {
                XCTAssertEqual(try two.embedImage(path: image), reference[i], "alone vs in a batch: \(image)")
            }
            for text in ["a photo of a cat", "two dogs playing in the snow near a red car"] {
                XCTAssertEqual(try two.embedText(text), try one.embedText(text), text)
                XCTAssertEqual(try three.embedText(text), try one.embedText(text), text)
            }
        }
    }
}
