// Checkpoints converted to .pclip: f32 files run exactly like their source; q8 and f16 files
// stay close; conversions are reproducible; the tokenizer and preprocessing travel inside.

import CLIPConvert
import CLIPFormat
import CLIPRuntime
import CorpusSupport
import Foundation
import XCTest

/// q8 (per output channel) and f16 on the tiny random models, from the step sizes: f16 rounds each
/// weight by ≤ 2⁻¹¹ relative (rms 2.8e-4), so ~10 matmuls in a row give ≈ 9e-4 relative noise and
/// 1 − cos ≈ ½(9e-4)² = 4e-7 (bar 1e-5). q8: weight step amax/127 with amax ≈ 3σ and activation
/// step (hi − lo)/255 ≈ 6σ/255 each give (3/127)/√12 = 6.8e-3 relative, ≈ 3e-2 over ~10 matmuls,
/// 1 − cos ≈ 4.6e-4 (bar 1e-3; ZeroShotAgreementTests holds the tighter bar). The int8 sums are
/// exact integers on every dispatch path and the float parts move with the CPU by ≤ 1e-5
/// (maxAbsDiffTinyFP32), which shifts 1 − cos by < 1e-6. A wrong scale or layout gives cosines
/// near 0.
let minCosineQ8Tiny = 0.999
let minCosineF16Tiny = 0.99999

final class PclipModelTests: XCTestCase {
    let vocabulary = fixture("tokenizer", "bpe_simple_vocab_16e6.txt.gz")

    func checkpoint(_ dir: String) throws -> Checkpoint {
        try CheckpointLoader.load(fixture(dir), options: CheckpointOptions(tokenizerPath: dir == "tiny-openclip" ? vocabulary : nil))
    }

    func converted(_ c: Checkpoint, _ options: ConvertOptions) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString).pclip").path
        try PclipConverter.convert(c, to: path, options: options)
        addTeardownBlock { unlink(path) }
        return path
    }

    func sourceModel(_ c: Checkpoint) throws -> CLIPModel {
        try CLIPModel(config: c.config, weights: c.weights, preprocess: c.preprocess, tokenizer: c.tokenizer)
    }

    let images = ["rgb_40x54.png", "gray_31x31.png", "rgba_67x20.png"].map { fixture("tiny-openclip", "images", $0) }
    let texts = ["a photo of a cat", "two dogs", "Hello, World! naïve café &amp; more"]

    func testF32FileEmbedsExactlyLikeTheCheckpoint() throws {
        for dir in ["tiny-openclip", "tiny-hf"] {
            let c = try checkpoint(dir)
            let source = try sourceModel(c)
            let file = try CLIPModel.load(pclip: try converted(c, ConvertOptions(dtype: .f32)))
            XCTAssertEqual(file.config, source.config)
            XCTAssertEqual(file.preprocess, source.preprocess)
            XCTAssertEqual(file.logitScale, source.logitScale)
            XCTAssertEqual(file.tokenizer!.vocabulary, source.tokenizer!.vocabulary)
            for image in images {
                XCTAssertEqual(try file.embedImage(path: image), try source.embedImage(path: image), "\(dir) \(image)")
            }
            for text in texts {
                XCTAssertEqual(try file.tokenizer!.tokenize(text, truncate: false), try source.tokenizer!.tokenize(text, truncate: false))
                XCTAssertEqual(try file.embedText(text), try source.embedText(text), "\(dir) '\(text)'")
            }
        }
    }

    func testNarrowedFilesStayClose() throws {
        let c = try checkpoint("tiny-hf")
        let source = try sourceModel(c)
        for (options, bar) in [(ConvertOptions(dtype: .q8), minCosineQ8Tiny), (ConvertOptions(dtype: .q8, groupSize: 8), minCosineQ8Tiny),
                               (ConvertOptions(dtype: .f16, compress: false), minCosineF16Tiny)] {
            let file = try CLIPModel.load(pclip: try converted(c, options))
            for image in images {
                let cos = compare(try file.embedImage(path: image), try source.embedImage(path: image)).cosine
                XCTAssertGreaterThanOrEqual(cos, bar, "\(options.dtype) group \(options.groupSize) \(image)")
            }
            for text in texts {
                let cos = compare(try file.embedText(text), try source.embedText(text)).cosine
                XCTAssertGreaterThanOrEqual(cos, bar, "\(options.dtype) group \(options.groupSize) '\(text)'")
            }
        }
    }

    func testTextGroupAppliesToTextBlocksOnly() throws {
        let c = try checkpoint("tiny-hf")
        let file = try PclipFile(path: try converted(c, ConvertOptions(textGroupSize: 16)))
        XCTAssertEqual(try file.info("text.blocks.0.attn.qkv.weight").groupSize, 16)
        XCTAssertEqual(try file.info("text.blocks.1.mlp.proj.weight").groupSize, 16)
        XCTAssertEqual(try file.info("vision.blocks.0.attn.qkv.weight").groupSize, 32, "vision stays per channel")
        XCTAssertEqual(try file.info("text.token_embed").groupSize, 32, "token rows keep one scale each")
    }

    /// The defaults: text blocks in groups of ConvertOptions.defaultTextGroup (one scale per
    /// channel where the row is no wider, as in the tiny models: not a fallback) with `.mse`
    /// scales; everything else one amax scale per channel. The metadata records the choice.
    func testDefaultTextWeightsUseMSEScalesAndGroupsOf128() throws {
        let c = try checkpoint("tiny-hf")
        func raw(_ f: PclipFile, _ name: String) throws -> [UInt8] { try f.data(name).withUnsafeBytes { Array($0) } }
        let defaults = try PclipFile(path: try converted(c, ConvertOptions()))
        let amax = try PclipFile(path: try converted(c, ConvertOptions(textScaleRule: .amax)))
        for name in ["text.blocks.0.attn.qkv.weight", "text.blocks.1.mlp.proj.weight"] {
            let k = try defaults.info(name).dims.last!
            XCTAssertLessThanOrEqual(k, ConvertOptions.defaultTextGroup, "the tiny model's rows")
            XCTAssertEqual(try defaults.info(name).groupSize, k, "\(name): per channel, no fallback")
            XCTAssertNotEqual(try raw(defaults, name), try raw(amax, name), "\(name): mse scales differ from amax")
        }
        for name in ["vision.blocks.0.attn.qkv.weight", "text.token_embed", "vision.patch_embed"] {
            XCTAssertEqual(try raw(defaults, name), try raw(amax, name), "\(name): amax outside the text blocks")
        }
        let source = defaults.metadata["source"]
        XCTAssertEqual(source?["text_group_size"], .number(Double(ConvertOptions.defaultTextGroup)))
        XCTAssertEqual(source?["text_scales"], .string("mse"))
        XCTAssertEqual(source?["scales"], .string("amax"))
        // A group wider than the row is one scale per channel, reported as no fallback.
        let widePath = FileManager.default.temporaryDirectory.appendingPathComponent("wide-\(UUID().uuidString).pclip").path
        addTeardownBlock { unlink(widePath) }
        let wide = try PclipConverter.convert(c, to: widePath, options: ConvertOptions(groupSize: 4096, textGroupSize: 4096))
        XCTAssertEqual(wide.perChannelFallbacks, [])
        XCTAssertEqual(try PclipFile(path: widePath).info("vision.blocks.0.mlp.fc.weight").groupSize, 32)
    }

    func testConvertingTwiceGivesIdenticalBytes() throws {
        let c = try checkpoint("tiny-openclip")
        for options in [ConvertOptions(), ConvertOptions(dtype: .f16, compress: false)] {
            let a = try converted(c, options), b = try converted(c, options)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        }
    }

    func testRawFilesAreMappedAndOneTowerLoadsAlone() throws {
        let c = try checkpoint("tiny-openclip")
        let path = try converted(c, ConvertOptions(dtype: .f32, compress: false))
        let file = try PclipFile(path: path)
        for t in file.tensors where !t.name.hasPrefix("tokenizer.") {
            XCTAssertEqual(t.compression, .raw)
            XCTAssertTrue(try file.data(t.name).isMapped, t.name)
        }
        let vision = try CLIPModel.load(pclip: path, towers: .vision)
        XCTAssertNil(vision.text)
        XCTAssertNil(vision.tokenizer, "the vision tower alone never loads the tokenizer")
        XCTAssertThrowsError(try vision.embedText("a cat"))
    }

    func testVisionOnlyCheckpointConvertsWithoutTokenizer() throws {
        let c = try CheckpointLoader.load(fixture("tiny-openclip"), options: CheckpointOptions(towers: .vision))
        let path = try converted(c, ConvertOptions())
        XCTAssertFalse(try PclipFile(path: path).contains(PclipNames.merges))
        let m = try CLIPModel.load(pclip: path, towers: .vision)
        XCTAssertEqual(try m.embedImage(path: images[0]).count, 16)
        XCTAssertThrowsError(try CLIPModel.load(pclip: path, towers: .both)) { e in
            XCTAssertTrue("\(e)".contains("no text tower"), "\(e)")
        }
    }

    func testTextTowerWithoutTokenizerRefusesToConvert() throws {
        let c = try CheckpointLoader.load(fixture("tiny-openclip"))
        XCTAssertNil(c.tokenizer)
        XCTAssertThrowsError(try converted(c, ConvertOptions())) { e in
            guard case .noTokenizer? = e as? ConvertError else { return XCTFail("unexpected \(e)") }
        }
    }
}
