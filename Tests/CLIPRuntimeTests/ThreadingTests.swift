// Results never depend on the thread count: work is split by output columns and attention
// heads, each computed by the same code whatever the split.

import CLIPConvert
import CLIPRuntime
import CorpusSupport
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

/// Without an observer the last block computes only the pooled row (class or EOT token); with
/// one it computes every row for the per-layer goldens. Both must give the same embedding.
final class PooledRowShortcutTests: XCTestCase {
    func testObservedAndUnobservedForwardsAgreeBitForBit() throws {
        let c = try CheckpointLoader.load(fixture("tiny-hf"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pooled-\(UUID().uuidString).pclip").path
        defer { unlink(path) }
        try PclipConverter.convert(c, to: path)
        for model in [try CLIPModel.load(pclip: path, threads: 2),
                      try CLIPModel(config: c.config, weights: c.weights, preprocess: c.preprocess, tokenizer: c.tokenizer)] {
            let pixels = [Float](repeating: 0.25, count: 3 * 32 * 32).enumerated().map { Float($0.offset % 17) * 0.1 - 0.8 }
            var layers = 0
            let observed = try model.vision!.encode(pixels: pixels, observer: { _, _, _ in layers += 1 }, pool: model.pool)
            XCTAssertGreaterThan(layers, 0)
            XCTAssertEqual(try model.vision!.encode(pixels: pixels, pool: model.pool), observed, "vision")
            let tokens = try model.tokenizer!.tokenize("two dogs playing in the snow", truncate: false)
            let observedText = try model.text!.encode(tokens: tokens, observer: { _, _, _ in }, pool: model.pool)
            XCTAssertEqual(try model.text!.encode(tokens: tokens, pool: model.pool), observedText, "text")
        }
    }
}
