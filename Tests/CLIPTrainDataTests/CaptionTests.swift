// The caption generator: seeded determinism, the held-out tint–class pairs, exact pixels of
// tint / flip / placement / scale on a tiny synthetic garment, and every sentence shape.

import CLIPTokenizer
import CLIPTrain
@testable import CLIPTrainData
import XCTest

final class DataCaptionTests: XCTestCase {
    /// Ten 4×4 garments, one per class, each pixel distinct within an image.
    static let garments: (IDXImages, [UInt8]) = {
        let pixels = (0..<10).flatMap { k in (0..<16).map { UInt8(10 + 15 * $0 + k) } }
        return (IDXImages(count: 10, rows: 4, columns: 4, pixels: pixels), (0..<10).map(UInt8.init))
    }()

    func testSameSeedSameBatchDifferentSeedDifferent() throws {
        let gen = try CaptionGenerator(canvas: 16)
        let (im, lb) = Self.garments
        var a = SeededNormal(seed: 7), b = SeededNormal(seed: 7), c = SeededNormal(seed: 8)
        let x = try gen.trainingBatch(images: im, labels: lb, batchSize: 12, rng: &a)
        let y = try gen.trainingBatch(images: im, labels: lb, batchSize: 12, rng: &b)
        let z = try gen.trainingBatch(images: im, labels: lb, batchSize: 12, rng: &c)
        XCTAssertEqual(x.images, y.images)
        XCTAssertEqual(x.captions, y.captions)
        XCTAssertEqual(x.images.count, 12 * 3 * 16 * 16)
        XCTAssertNotEqual(x.captions, z.captions)
        let e1 = try gen.heldOutEvaluationSet(images: im, labels: lb, perPair: 1, seed: 3)
        let e2 = try gen.heldOutEvaluationSet(images: im, labels: lb, perPair: 1, seed: 3)
        XCTAssertEqual(e1.images, e2.images); XCTAssertEqual(e1.captions, e2.captions)
    }

    /// The list documented in docs/training.md ("Held-out tint–class pairs"). If this fails the
    /// draw changed: update the documentation (and know that earlier evaluations are not comparable).
    func testHeldOutPairsAreTheDocumentedOnes() {
        let documented = ["green t-shirt", "gray t-shirt", "red trouser", "yellow pullover", "purple pullover",
                          "blue dress", "orange coat", "gray sandal", "blue shirt", "white shirt", "purple sneaker",
                          "orange sneaker", "green bag", "white bag", "red ankle boot", "yellow ankle boot"]
        XCTAssertEqual(CaptionGenerator.heldOutPairs.count, 16)
        XCTAssertEqual(Set(CaptionGenerator.heldOutPairs).count, 16)
        XCTAssertEqual(CaptionGenerator.heldOutPairs.map(\.description), documented)
        // Balanced: each tint held out for exactly 2 classes, each class loses 1 or 2 tints.
        for t in Tint.allCases { XCTAssertEqual(CaptionGenerator.heldOutPairs.filter { $0.tint == t }.count, 2, "\(t)") }
        for c in 0..<10 { XCTAssertTrue((1...2).contains(CaptionGenerator.heldOutPairs.filter { $0.classIndex == c }.count), "class \(c)") }
    }

    func testTrainingSamplerNeverProducesHeldOutPairs() throws {
        let gen = try CaptionGenerator(canvas: 8)
        var rng = SeededNormal(seed: 1)
        var seen = Set<TintClassPair>()
        for draw in 0..<40_000 {
            let a = gen.sampleTrainingAttributes(classIndex: draw % 10, rng: &rng)
            seen.insert(TintClassPair(tint: a.tint, classIndex: a.classIndex))
        }
        XCTAssertTrue(seen.isDisjoint(with: CaptionGenerator.heldOutPairs))
        // ... and it does produce every other pair (80 − 16 = 64), so the check above is not vacuous.
        XCTAssertEqual(seen.count, 64)
        let (im, lb) = Self.garments
        let eval = try gen.heldOutEvaluationSet(images: im, labels: lb, perPair: 2, seed: 0)
        let pairs = eval.attributes.map { TintClassPair(tint: $0.tint, classIndex: $0.classIndex) }
        XCTAssertEqual(Set(pairs), Set(CaptionGenerator.heldOutPairs))
        XCTAssertEqual(eval.count, 16)  // one garment per class here, so perPair 2 gives 1 each
    }

    /// The plane values of `rgb` channel `c` as rows.
    private func plane(_ rgb: [Float], _ c: Int, _ S: Int) -> [[Float]] {
        (0..<S).map { y in Array(rgb[c * S * S + y * S ..< c * S * S + (y + 1) * S]) }
    }

    func testTintFlipPlacementPixels() throws {
        let gen = try CaptionGenerator(canvas: 8)  // small side 4 = the source: an exact copy
        let (im, _) = Self.garments
        let g = im.image(0), v = { (y: Int, x: Int) in Float(g[g.startIndex + y * 4 + x]) / 255 }
        for tint in Tint.allCases {
            for (place, y0, x0) in [(Placement.topLeft, 0, 0), (.topRight, 0, 4), (.center, 2, 2), (.bottomLeft, 4, 0), (.bottomRight, 4, 4)] {
                for flipped in [false, true] {
                    let a = CaptionAttributes(classIndex: 0, tint: tint, placement: place, scale: .small, flipped: flipped, shape: .photo)
                    let rgb = gen.renderRGB(gray: g, rows: 4, columns: 4, attributes: a)
                    let f = [tint.rgb.0, tint.rgb.1, tint.rgb.2]
                    for c in 0..<3 {
                        let p = plane(rgb, c, 8)
                        for y in 0..<8 { for x in 0..<8 {
                            let inside = (y0..<y0 + 4).contains(y) && (x0..<x0 + 4).contains(x)
                            let sx = flipped ? 3 - (x - x0) : x - x0
                            let want: Float = inside ? f[c] * v(y - y0, sx) : 0
                            XCTAssertEqual(p[y][x], want, "\(tint) \(place) flip \(flipped) c\(c) (\(y),\(x))")
                        } }
                    }
                }
            }
        }
    }

    func testLargeScaleIsNearestNeighbour() throws {
        let gen = try CaptionGenerator(canvas: 8)  // large side 7 from 4 source pixels
        let (im, _) = Self.garments
        let g = im.image(3)
        let a = CaptionAttributes(classIndex: 3, tint: .white, placement: .topLeft, scale: .large, flipped: false, shape: .bare)
        let p = plane(gen.renderRGB(gray: g, rows: 4, columns: 4, attributes: a), 1, 8)
        let map = [0, 0, 1, 2, 2, 3, 3]  // source index under each output pixel centre: (2i+1)·4 / 14
        for y in 0..<7 { for x in 0..<7 {
            XCTAssertEqual(p[y][x], Float(g[g.startIndex + map[y] * 4 + map[x]]) / 255)
        } }
        XCTAssertEqual(p[7], [Float](repeating: 0, count: 8))
        XCTAssertEqual(p[0][7], 0)
    }

    func testNormalizationUsesMeanAndStd() throws {
        let gen = try CaptionGenerator(canvas: 8, mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2])
        let rgb = (0..<192).map { Float($0) / 192 }
        let n = gen.normalize(rgb)
        XCTAssertEqual(n[10], (rgb[10] - 0.5) / 0.5)
        XCTAssertEqual(n[64 + 10], (rgb[64 + 10] - 0.25) / 0.25)
        XCTAssertEqual(n[128 + 10], rgb[128 + 10] / 2)
        XCTAssertThrowsError(try CaptionGenerator(canvas: 8, mean: [0, 0], std: [1, 1, 1]))
        XCTAssertThrowsError(try CaptionGenerator(canvas: 8, std: [1, 0, 1]))
        XCTAssertThrowsError(try CaptionGenerator(canvas: 4))
    }

    func testEverySentenceShape() throws {
        let gen = try CaptionGenerator()
        func cap(_ cls: Int, _ syn: Int, _ tint: Tint, _ place: Placement, _ scale: GarmentScale, _ flip: Bool, _ shape: CaptionShape) -> String {
            gen.caption(CaptionAttributes(classIndex: cls, tint: tint, placement: place, scale: scale, flipped: flip, shape: shape, synonym: syn))
        }
        XCTAssertEqual(cap(7, 0, .red, .center, .large, false, .photo), "a photo of a red sneaker.")
        XCTAssertEqual(cap(3, 0, .blue, .topLeft, .small, true, .sizedPlaced), "a small blue dress in the top left corner.")
        XCTAssertEqual(cap(9, 0, .gray, .center, .small, true, .picture), "a picture of a gray ankle boot, flipped.")
        XCTAssertEqual(cap(9, 1, .gray, .center, .small, false, .picture), "a picture of a gray boot.")
        XCTAssertEqual(cap(8, 2, .white, .bottomRight, .small, false, .bare), "white purse")
        XCTAssertEqual(cap(8, 1, .orange, .center, .large, true, .thereIs), "there is a large orange handbag in the center, mirrored.")
        XCTAssertEqual(cap(4, 1, .orange, .topRight, .large, false, .photo), "a photo of an orange jacket.")
        XCTAssertEqual(cap(1, 1, .purple, .bottomLeft, .small, false, .sizedPlaced), "a pair of small purple pants in the bottom left corner.")
        XCTAssertEqual(cap(1, 2, .green, .center, .small, false, .photo), "a photo of a green trouser.")

        // The sampler reaches every shape and every synonym of every class.
        var rng = SeededNormal(seed: 11)
        var shapes = Set<Int>(), words = Set<String>()
        for draw in 0..<5_000 {
            let a = gen.sampleTrainingAttributes(classIndex: draw % 10, rng: &rng)
            shapes.insert(a.shape.rawValue)
            words.insert(CaptionGenerator.synonyms[a.classIndex][a.synonym].word)
        }
        XCTAssertEqual(shapes, Set(CaptionShape.allCases.map(\.rawValue)))
        XCTAssertEqual(words, Set(CaptionGenerator.synonyms.flatMap { $0.map(\.word) }))
    }

    func testTokenizerSeamAndBadInput() throws {
        let gen = try CaptionGenerator(canvas: 8)
        let (im, lb) = Self.garments
        var rng = SeededNormal(seed: 2)
        let batch = try gen.trainingBatch(images: im, labels: lb, batchSize: 3, rng: &rng)
        let ids = try batch.tokens(contextLength: 4) { s in [49406, Int32(s.count), 49407, 0] }
        XCTAssertEqual(ids.count, 12)
        XCTAssertEqual(ids[5], Int32(batch.captions[1].count))
        XCTAssertThrowsError(try batch.tokens(contextLength: 4) { _ in [1, 2] })
        XCTAssertThrowsError(try gen.trainingBatch(images: im, labels: Array(lb.prefix(3)), batchSize: 2, rng: &rng))
        XCTAssertThrowsError(try gen.trainingBatch(images: im, labels: lb, batchSize: 0, rng: &rng))
        XCTAssertThrowsError(try gen.heldOutEvaluationSet(images: im, labels: lb, perPair: 0, seed: 1))
    }
}

/// The default recipe's context holds every caption the generator can write (a longer one would
/// stop a training run mid-way).
final class CaptionLengthTests: XCTestCase {
    func testEveryCaptionFitsTheDefaultContext() throws {
        let vocab = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz").path
        let tok = try CLIPTokenizer.load(bpeFile: vocab)
        let g = try CaptionGenerator()
        var captions = Set<String>()
        for c in CaptionGenerator.classNames.indices {
            for syn in CaptionGenerator.synonyms[c].indices {
                for tint in Tint.allCases { for place in Placement.allCases { for scale in GarmentScale.allCases {
                    for flip in [false, true] { for shape in CaptionShape.allCases { for names in [false, true] {
                        captions.insert(g.caption(CaptionAttributes(classIndex: c, tint: tint, placement: place, scale: scale,
                                                                    flipped: flip, shape: shape, synonym: syn, namesTint: names)))
                    } } }
                } } }
            }
        }
        let longest = try captions.map { try tok.tokenize($0, truncate: false).count }.max()!
        XCTAssertGreaterThan(captions.count, 5000)
        XCTAssertLessThanOrEqual(longest, TrainRecipe.fashionMNIST.model.contextLength)
        print("CaptionLengthTests: \(captions.count) distinct captions, longest \(longest) tokens with SOT/EOT")
    }
}
