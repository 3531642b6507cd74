// The stage-timer hooks: they must not change a result, and their laps must cut a forward pass
// into consecutive, non-overlapping stages in the documented order (Profiler.swift).

import CLIPConvert
import CLIPImage
import CLIPRuntime
import CorpusSupport
import Foundation
import XCTest

final class ProfilerTests: XCTestCase {
    /// The tiny model as the float checkpoint and as an int8 .pclip (both runtime paths).
    func models() throws -> [(String, CLIPModel)] {
        let c = try CheckpointLoader.load(fixture("tiny-hf"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("profiler-\(UUID().uuidString).pclip").path
        defer { unlink(path) }
        try PclipConverter.convert(c, to: path)
        return [("float", try CLIPModel(config: c.config, weights: c.weights, preprocess: c.preprocess, tokenizer: c.tokenizer, threads: 2)),
                ("pclip", try CLIPModel.load(pclip: path, threads: 2))]
    }

    func testTimedAndUntimedForwardsAgreeBitForBit() throws {
        for (kind, model) in try models() {
            let vision = try XCTUnwrap(model.vision), text = try XCTUnwrap(model.text), tokenizer = try XCTUnwrap(model.tokenizer)
            let pixels = try Preprocessor.pixels(path: fixture("tiny-openclip", "images", "rgb_40x54.png"), config: model.preprocess)
            let timer = StageTimer()
            timer.start()
            XCTAssertEqual(try vision.encode(batch: [pixels, pixels], pool: model.pool, timer: timer),
                           try vision.encode(batch: [pixels, pixels], pool: model.pool), "\(kind) image")
            let tokens = try tokenizer.tokenize("a photo of a cat", truncate: false)
            timer.start()
            XCTAssertEqual(try text.encode(tokens: tokens, pool: model.pool, timer: timer),
                           try text.encode(tokens: tokens, pool: model.pool), "\(kind) text")
        }
    }

    func testLapsPartitionARunInOrder() throws {
        for (kind, model) in try models() {
            let vision = try XCTUnwrap(model.vision), text = try XCTUnwrap(model.text), tokenizer = try XCTUnwrap(model.tokenizer)
            let pixels = try Preprocessor.pixels(path: fixture("tiny-openclip", "images", "rgb_40x54.png"), config: model.preprocess)
            let cases: [(ProfileStage.Tower, Int, (StageTimer) throws -> Void)] = [
                (.vision, model.config.vision.tower.layers, { _ = try vision.encode(batch: [pixels], pool: model.pool, timer: $0) }),
                (.text, model.config.text.tower.layers,
                 { _ = try text.encode(tokens: try tokenizer.tokenize("a cat", truncate: false), pool: model.pool, timer: $0) }),
            ]
            for (tower, layers, run) in cases {
                let timer = StageTimer()
                let start = StageTimer.now()
                timer.start(at: start)
                try run(timer)
                let end = StageTimer.now()
                var expected = [ProfileStage(tower, .embed)]
                for i in 0..<layers { expected += [ProfileStage(tower, .attention, block: i), ProfileStage(tower, .mlp, block: i)] }
                expected.append(ProfileStage(tower, .head))
                XCTAssertEqual(timer.intervals.map(\.stage), expected, "\(kind) \(tower) stage order")
                // Consecutive: each stage starts where the previous one ended, from the run's start.
                var previous = start
                for i in timer.intervals {
                    XCTAssertEqual(i.start, previous, "\(kind) \(i.stage) starts at the previous lap")
                    XCTAssertGreaterThanOrEqual(i.end, i.start)
                    previous = i.end
                }
                XCTAssertLessThanOrEqual(previous, end)
                // Operation counts exist for every matmul stage the run reported.
                let ops = tower == .vision ? vision.stageOperations(batch: 1)
                    : text.stageOperations(tokens: try tokenizer.tokenize("a cat", truncate: false))
                for s in expected where s.kind != .embed || tower == .vision {
                    XCTAssertGreaterThan(ops[s] ?? 0, 0, "\(kind) operations of \(s)")
                }
            }
        }
    }

    func testStageNames() {
        XCTAssertEqual(ProfileStage(.vision, .attention, block: 3).description, "vision.block.3.attention")
        XCTAssertEqual(ProfileStage(.text, .head).description, "text.head")
        XCTAssertEqual(ProfileStage(.vision, .decode).description, "decode")
    }
}
