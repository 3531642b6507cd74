// Image–caption pairs from labelled grayscale garments (Fashion-MNIST): each image is tinted,
// optionally mirrored, scaled and placed on a larger black canvas, and described by a sentence
// naming exactly the attributes that were applied. Everything is drawn from a seeded SplitMix64
// (`SeededNormal`), so a seed fixes images and captions on every platform.
//
// Compositional generalization is measured with a fixed held-out set: 20% of the 80 tint–class
// pairs (`CaptionGenerator.heldOutPairs`, listed in docs/training.md) are never produced by the
// training sampler; `heldOutEvaluationSet` renders exactly those pairs.
//
// Tokenization is not done here: CLIPTrain does not import the tokenizer. Captions leave as
// Strings; the caller maps them to token rows (`CaptionBatch.tokens(_:)` takes the tokenizer
// as a closure) and passes those to `CLIPTrainModel.lossAndGradients`.

import CLIPTrain

/// A colour the grayscale garment is multiplied by (RGB factors in 0...1).
public enum Tint: Int, CaseIterable, Sendable {
    case red, green, blue, yellow, purple, orange, white, gray

    /// The word used in captions.
    public var name: String { String(describing: self) }

    /// The colour itself: per-channel factors in 0...1, chosen so no two tints are close.
    public var colour: (Float, Float, Float) {
        switch self {
        case .red: return (1.0, 0.1, 0.1)
        case .green: return (0.1, 0.9, 0.1)
        case .blue: return (0.15, 0.3, 1.0)
        case .yellow: return (1.0, 0.9, 0.1)
        case .purple: return (0.6, 0.15, 0.8)
        case .orange: return (1.0, 0.55, 0.05)
        case .white: return (1.0, 1.0, 1.0)
        case .gray: return (0.55, 0.55, 0.55)
        }
    }

    /// Share of the garment's gray every channel keeps whatever the tint.
    ///
    /// With pure colours (floor 0) a red garment's texture lives in the red channel only and a
    /// green one's in the green channel only, so the shapes the image tower learns for a class
    /// are tied to the channels of the tints it saw that class in, and a held-out combination
    /// looks like nothing seen. A floor keeps the texture in all three channels, as a real
    /// coloured object has shading in every channel. Full default-recipe runs (docs/training.md):
    /// floor 0 → held-out 55.2%, zero-shot 80.1%; 0.3 → 60.9%, 83.4%; 0.5 → the bundled model.
    public static let channelFloor: Float = 0.5

    /// The per-channel factor: out_c = rgb_c · gray / 255, rgb_c = floor + (1 − floor) · colour_c
    /// (red = (1, 0.55, 0.55), gray = (0.775, 0.775, 0.775)).
    public var rgb: (Float, Float, Float) {
        let f = Self.channelFloor, (r, g, b) = colour
        return (f + (1 - f) * r, f + (1 - f) * g, f + (1 - f) * b)
    }
}

/// Where the scaled garment sits on the canvas.
public enum Placement: Int, CaseIterable, Sendable {
    case topLeft, topRight, center, bottomLeft, bottomRight

    /// The phrase after "in the".
    public var phrase: String {
        switch self {
        case .topLeft: return "top left corner"
        case .topRight: return "top right corner"
        case .center: return "center"
        case .bottomLeft: return "bottom left corner"
        case .bottomRight: return "bottom right corner"
        }
    }
}

/// The garment's side relative to the canvas: small = S/2, large = 7S/8 (28 pixels on the default
/// 32-pixel canvas: Fashion-MNIST's own resolution, nothing lost to scaling, and the five
/// placements of a large garment only a few pixels apart, so they share what is learned).
public enum GarmentScale: Int, CaseIterable, Sendable {
    case small, large
    public var word: String { self == .small ? "small" : "large" }
    /// Side in pixels on a canvas of side `canvas`.
    public func side(canvas: Int) -> Int { self == .small ? canvas / 2 : canvas * 7 / 8 }
}

/// The sentence templates. Each names the tint and the class; the others add the attributes
/// shown in their comment.
public enum CaptionShape: Int, CaseIterable, Sendable {
    case photo        // "a photo of a red sneaker."
    case sizedPlaced  // "a small blue dress in the top left corner."
    case picture      // "a picture of a gray ankle boot, flipped."  (", flipped" only if mirrored)
    case bare         // "red sneaker"
    case thereIs      // "there is a large orange bag in the center, mirrored."  (size, place, flip)
}

/// One caption word for a class, with whether it takes "a pair of".
public struct ClassNoun: Sendable, Equatable {
    public let word: String
    public let plural: Bool
}

/// Every choice that defines one rendered example.
public struct CaptionAttributes: Equatable, Sendable {
    public var classIndex: Int
    public var tint: Tint
    public var placement: Placement
    public var scale: GarmentScale
    public var flipped: Bool
    public var shape: CaptionShape
    /// Index into `CaptionGenerator.synonyms[classIndex]`.
    public var synonym: Int
    /// Whether the caption names the colour ("a photo of a red sneaker.") or not ("a photo of
    /// a sneaker."): real captions often leave it out, and a model that has seen both answers
    /// plain class prompts as well as coloured ones.
    public var namesTint: Bool

    public init(classIndex: Int, tint: Tint, placement: Placement, scale: GarmentScale, flipped: Bool,
                shape: CaptionShape, synonym: Int = 0, namesTint: Bool = true) {
        self.classIndex = classIndex; self.tint = tint; self.placement = placement
        self.scale = scale; self.flipped = flipped; self.shape = shape; self.synonym = synonym
        self.namesTint = namesTint
    }
}

/// A tint–class combination.
public struct TintClassPair: Hashable, Sendable, CustomStringConvertible {
    public let tint: Tint
    public let classIndex: Int
    public var description: String { "\(tint.name) \(CaptionGenerator.classNames[classIndex])" }
    public init(tint: Tint, classIndex: Int) { self.tint = tint; self.classIndex = classIndex }
}

/// Rendered images and their captions.
public struct CaptionBatch: Sendable {
    /// [count, 3, S, S], normalized per channel as (x − mean) / std with x in 0...1.
    public var images: [Float]
    public var captions: [String]
    public var attributes: [CaptionAttributes]
    /// Indices of the source images.
    public var sourceIndices: [Int]
    public var count: Int { captions.count }

    /// The seam to the tokenizer: `tokenize` maps a caption to exactly `contextLength` ids
    /// (CLIP's SOT … EOT, zero padded), giving the [count, contextLength] rows the model takes.
    public func tokens(contextLength: Int, _ tokenize: (String) throws -> [Int32]) throws -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count * contextLength)
        for c in captions {
            let row = try tokenize(c)
            guard row.count == contextLength else {
                throw DataError.invalidArgument("the tokenizer gave \(row.count) ids for \"\(c)\", expected \(contextLength); pad or truncate to the context length")
            }
            out += row
        }
        return out
    }
}

/// Seeded generator of image–caption pairs from labelled grayscale images.
public struct CaptionGenerator: Sendable {
    /// Fashion-MNIST's classes, in label order.
    public static let classNames = ["t-shirt", "trouser", "pullover", "dress", "coat",
                                    "sandal", "shirt", "sneaker", "bag", "ankle boot"]
    /// Caption words per class (label order); the first is the canonical name.
    public static let synonyms: [[ClassNoun]] = [
        [.init(word: "t-shirt", plural: false), .init(word: "tee", plural: false), .init(word: "top", plural: false)],
        [.init(word: "trousers", plural: true), .init(word: "pants", plural: true), .init(word: "trouser", plural: false)],
        [.init(word: "pullover", plural: false), .init(word: "sweater", plural: false), .init(word: "jumper", plural: false)],
        [.init(word: "dress", plural: false)],
        [.init(word: "coat", plural: false), .init(word: "jacket", plural: false)],
        [.init(word: "sandal", plural: false)],
        [.init(word: "shirt", plural: false), .init(word: "button-up shirt", plural: false)],
        [.init(word: "sneaker", plural: false), .init(word: "trainer", plural: false)],
        [.init(word: "bag", plural: false), .init(word: "handbag", plural: false), .init(word: "purse", plural: false)],
        [.init(word: "ankle boot", plural: false), .init(word: "boot", plural: false)],
    ]
    /// Seed of the held-out draw. Changing it changes the documented list in docs/training.md.
    public static let heldOutSeed: UInt64 = 5
    /// Fraction of the tint–class pairs held out: 16 of 80.
    public static let heldOutCount = Tint.allCases.count * classNames.count / 5

    /// The tint–class pairs the training sampler never produces, balanced: every tint is held
    /// out for exactly two classes, every class loses one or two tints (so each class and each
    /// tint is still seen in training). Pair k (0..<16) is (tintOrder[k % 8], classOrder[k % 10])
    /// over seeded Fisher–Yates orders; 8 and 10 share only the factor 2, so the 16 pairs are
    /// distinct (a repeat needs k ≡ k' mod 40). Sorted by class then tint.
    public static let heldOutPairs: [TintClassPair] = {
        var rng = SeededNormal(seed: heldOutSeed)
        func shuffled(_ n: Int) -> [Int] {
            var a = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.nextUInt64() % UInt64(i + 1))) }
            return a
        }
        let tints = shuffled(Tint.allCases.count), classes = shuffled(classNames.count)
        return (0..<heldOutCount)
            .map { TintClassPair(tint: Tint(rawValue: tints[$0 % tints.count])!, classIndex: classes[$0 % classes.count]) }
            .sorted { ($0.classIndex, $0.tint.rawValue) < ($1.classIndex, $1.tint.rawValue) }
    }()
    private static let heldOutSet = Set(heldOutPairs)

    /// Whether a pair belongs to the held-out set.
    public static func isHeldOut(tint: Tint, classIndex: Int) -> Bool {
        heldOutSet.contains(TintClassPair(tint: tint, classIndex: classIndex))
    }

    /// Canvas side S of the rendered images.
    public let canvas: Int
    public let mean: [Float]
    public let std: [Float]

    /// CLIP's normalization constants (OpenAI), the default.
    public static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init(canvas: Int = 32, mean: [Float] = CaptionGenerator.clipMean, std: [Float] = CaptionGenerator.clipStd) throws {
        guard canvas >= 8, canvas <= IDXReader.maxSide else {
            throw DataError.invalidArgument("canvas \(canvas) is outside 8...\(IDXReader.maxSide); use the model's image size (e.g. 32 or 64)")
        }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw DataError.invalidArgument("mean and std need 3 finite values each and std > 0; found mean \(mean), std \(std)")
        }
        self.canvas = canvas; self.mean = mean; self.std = std
    }

    // MARK: sampling

    /// Draws the attributes of a training example of class `classIndex`: the tint is uniform
    /// over the tints not held out for that class; the rest is uniform.
    /// One caption in `tintOmissionOdds` leaves the colour out.
    public func sampleTrainingAttributes(classIndex: Int, rng: inout SeededNormal) -> CaptionAttributes {
        let tints = Tint.allCases.filter { !Self.isHeldOut(tint: $0, classIndex: classIndex) }
        var a = sampleAttributes(classIndex: classIndex, tint: tints[pick(tints.count, &rng)], rng: &rng)
        a.namesTint = pick(Self.tintOmissionOdds, &rng) != 0
        return a
    }

    /// 1 in this many training captions omits the colour word.
    public static let tintOmissionOdds = 4

    /// The attributes of a "plain" test image: untinted (white), large, centred, not mirrored.
    public static func plainAttributes(classIndex: Int) -> CaptionAttributes {
        CaptionAttributes(classIndex: classIndex, tint: .white, placement: .center, scale: .large, flipped: false,
                          shape: .photo, synonym: 0, namesTint: false)
    }

    /// Zero-shot prompts for a class (and a tint, or none): one caption per sentence shape, with
    /// the class's first name (or each of its names, `allNames`), large, centred, not mirrored —
    /// an ensemble in CLIP's sense.
    public func prompts(classIndex: Int, tint: Tint?, allNames: Bool = false) -> [String] {
        let names = allNames ? Array(Self.synonyms[classIndex].indices) : [0]
        return names.flatMap { synonym in
            CaptionShape.allCases.map { shape in
                caption(CaptionAttributes(classIndex: classIndex, tint: tint ?? .white, placement: .center, scale: .large,
                                          flipped: false, shape: shape, synonym: synonym, namesTint: tint != nil))
            }
        }
    }

    /// Draws every attribute but the given tint.
    public func sampleAttributes(classIndex: Int, tint: Tint, rng: inout SeededNormal) -> CaptionAttributes {
        CaptionAttributes(classIndex: classIndex, tint: tint,
                          placement: Placement.allCases[pick(Placement.allCases.count, &rng)],
                          scale: GarmentScale.allCases[pick(GarmentScale.allCases.count, &rng)],
                          flipped: pick(2, &rng) == 1,
                          shape: CaptionShape.allCases[pick(CaptionShape.allCases.count, &rng)],
                          synonym: pick(Self.synonyms[classIndex].count, &rng))
    }

    /// A training batch: `batchSize` images drawn uniformly (with replacement) from `images`,
    /// each with sampled training attributes. Never produces a held-out tint–class pair.
    public func trainingBatch(images: IDXImages, labels: [UInt8], batchSize: Int, rng: inout SeededNormal) throws -> CaptionBatch {
        try check(images: images, labels: labels)
        guard batchSize > 0, images.count > 0 else {
            throw DataError.invalidArgument("batch size \(batchSize) from \(images.count) images; need at least one of each")
        }
        var batch = CaptionBatch(images: [], captions: [], attributes: [], sourceIndices: [])
        for _ in 0..<batchSize {
            let i = pick(images.count, &rng)
            let a = sampleTrainingAttributes(classIndex: Int(labels[i]), rng: &rng)
            append(&batch, images: images, index: i, attributes: a)
        }
        return batch
    }

    /// The held-out evaluation set: for every held-out pair, up to `perPair` images of that
    /// class (the first ones in file order), with that tint and seeded other attributes.
    public func heldOutEvaluationSet(images: IDXImages, labels: [UInt8], perPair: Int, seed: UInt64) throws -> CaptionBatch {
        try check(images: images, labels: labels)
        guard perPair > 0 else { throw DataError.invalidArgument("perPair is \(perPair); ask for at least 1 image per held-out pair") }
        var rng = SeededNormal(seed: seed)
        var batch = CaptionBatch(images: [], captions: [], attributes: [], sourceIndices: [])
        for pair in Self.heldOutPairs {
            let members = labels.indices.lazy.filter { Int(labels[$0]) == pair.classIndex }.prefix(perPair)
            for i in members {
                append(&batch, images: images, index: i, attributes: sampleAttributes(classIndex: pair.classIndex, tint: pair.tint, rng: &rng))
            }
        }
        return batch
    }

    private func append(_ batch: inout CaptionBatch, images: IDXImages, index: Int, attributes a: CaptionAttributes) {
        batch.images += normalize(renderRGB(gray: images.image(index), rows: images.rows, columns: images.columns, attributes: a))
        batch.captions.append(caption(a))
        batch.attributes.append(a)
        batch.sourceIndices.append(index)
    }

    private func check(images: IDXImages, labels: [UInt8]) throws {
        guard images.count == labels.count else {
            throw DataError.invalidArgument("\(images.count) images but \(labels.count) labels; pass a matching pair")
        }
        if let bad = labels.first(where: { Int($0) >= Self.classNames.count }) {
            throw DataError.invalidArgument("label \(bad) is outside 0..<\(Self.classNames.count)")
        }
    }

    /// Uniform in 0..<n (the modulo bias, < n/2⁶⁴, is irrelevant for these small n).
    private func pick(_ n: Int, _ rng: inout SeededNormal) -> Int { Int(rng.nextUInt64() % UInt64(n)) }

    // MARK: rendering

    /// Renders one garment as RGB planes [3, S, S] in 0...1, black background: mirror (if
    /// flipped), nearest-neighbour scale to the attribute's side, place, multiply by the tint.
    /// Nearest-neighbour keeps every output pixel an exact tinted source pixel.
    public func renderRGB<C: RandomAccessCollection>(gray: C, rows: Int, columns: Int, attributes a: CaptionAttributes) -> [Float]
    where C.Element == UInt8, C.Index == Int {
        precondition(gray.count == rows * columns, "renderRGB: \(gray.count) pixels for \(rows)×\(columns)")
        let S = canvas, side = a.scale.side(canvas: S), margin = S - side
        let (y0, x0): (Int, Int)
        switch a.placement {
        case .topLeft: (y0, x0) = (0, 0)
        case .topRight: (y0, x0) = (0, margin)
        case .center: (y0, x0) = (margin / 2, margin / 2)
        case .bottomLeft: (y0, x0) = (margin, 0)
        case .bottomRight: (y0, x0) = (margin, margin)
        }
        let (r, g, b) = a.tint.rgb
        var out = [Float](repeating: 0, count: 3 * S * S)
        let base = gray.startIndex
        for y in 0..<side {
            let sy = (2 * y + 1) * rows / (2 * side)  // source row under the pixel centre
            for x in 0..<side {
                var sx = (2 * x + 1) * columns / (2 * side)
                if a.flipped { sx = columns - 1 - sx }
                let v = Float(gray[base + sy * columns + sx]) / 255
                let o = (y0 + y) * S + x0 + x
                out[o] = r * v
                out[S * S + o] = g * v
                out[2 * S * S + o] = b * v
            }
        }
        return out
    }

    /// (x − mean_c) / std_c per channel of planes [3, S, S].
    public func normalize(_ rgb: [Float]) -> [Float] {
        let plane = canvas * canvas
        var out = rgb
        for c in 0..<3 {
            for i in c * plane ..< (c + 1) * plane { out[i] = (rgb[i] - mean[c]) / std[c] }
        }
        return out
    }

    // MARK: captions

    /// The caption of an example, from its sentence shape.
    public func caption(_ a: CaptionAttributes) -> String {
        let noun = Self.synonyms[a.classIndex][a.synonym]
        let colourNoun = a.namesTint ? "\(a.tint.name) \(noun.word)" : noun.word
        let sizedNoun = "\(a.scale.word) \(colourNoun)"
        let place = "in the \(a.placement.phrase)"
        switch a.shape {
        case .photo: return "a photo of \(article(colourNoun, noun))."
        case .sizedPlaced: return "\(article(sizedNoun, noun)) \(place)."
        case .picture: return "a picture of \(article(colourNoun, noun))\(a.flipped ? ", flipped" : "")."
        case .bare: return colourNoun
        case .thereIs: return "there is \(article(sizedNoun, noun)) \(place)\(a.flipped ? ", mirrored" : "")."
        }
    }

    /// "a"/"an" by the phrase's first letter, or "a pair of" for plural garments.
    private func article(_ phrase: String, _ noun: ClassNoun) -> String {
        if noun.plural { return "a pair of \(phrase)" }
        return ("aeiou".contains(phrase.first ?? "x") ? "an " : "a ") + phrase
    }
}
