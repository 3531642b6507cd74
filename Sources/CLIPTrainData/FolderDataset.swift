// A folder of images plus a captions file as a `TrainingSource`: every listed image is decoded
// and preprocessed once, at load, with CLIPImage's exact CLIP preprocessing (the one the runtime
// and the converted model use: bicubic resize of the shortest side, center crop, open_clip's
// rounding), and kept as its uint8 RGB crop (S·S·3 bytes, a quarter of the floats); a batch
// normalizes the crops it draws with `Preprocessor.normalize`, so its pixels are bit-identical
// to what `pocketclip embed` feeds the model for the same file.
//
// Bad rows never stop a load: a missing image, an empty caption, an undecodable file or a
// malformed row is recorded in `skipped` with its line and reason. Only a file that leaves no
// usable pair throws. An image listed on several rows (several captions) is decoded once.

import CLIPImage
import CLIPSupport
import CLIPTrain
import Dispatch

/// Image–caption pairs from a captions file (`CaptionFile`) and the images it names.
///
///     let data = try FolderDataset(captionsFile: "examples/train-your-own/captions.tsv", imageSize: 32)
///     print(data.summary)                    // "… 30 pairs from 30 images; 3 rows skipped: …"
///     var rng = SeededNormal(seed: 1)
///     let (images, captions) = try data.trainingBatch(batchSize: 16, rng: &rng)
public struct FolderDataset: TrainingSource, Sendable {
    public let captionsFile: String
    public let imageSize: Int
    public let mean: [Float]
    public let std: [Float]
    /// The usable rows, in file order.
    public let rows: [CaptionRow]
    /// Rows not used, in line order, with their reasons.
    public let skipped: [SkippedRow]
    /// Number of distinct image files decoded.
    public let distinctImages: Int
    /// uint8 RGB crops [distinctImages, S, S, 3] (HWC, the layout `Preprocessor.rgb8` returns).
    let crops: [UInt8]
    /// rows[i]'s crop index.
    let cropIndex: [Int]

    /// Usable pairs.
    public var count: Int { rows.count }
    public var captions: [String] { rows.map(\.caption) }

    /// OpenAI CLIP's normalization, the default (as `CaptionGenerator` and the exporters use).
    public static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Loads `captionsFile` (.tsv or .jsonl) and decodes every image it names, resized and center
    /// cropped to `imageSize`. Throws `CaptionDataError` if the file cannot be read or no row is
    /// usable; bad rows are reported in `skipped`.
    public init(captionsFile: String, imageSize: Int, mean: [Float] = FolderDataset.clipMean,
                std: [Float] = FolderDataset.clipStd) throws {
        guard imageSize > 0, imageSize <= PreprocessConfig.maxSize else {
            throw CaptionDataError.invalidArgument("image size \(imageSize) is outside 1...\(PreprocessConfig.maxSize); use the model's image size (e.g. 32 or 64)")
        }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw CaptionDataError.invalidArgument("mean and std need 3 finite values each and std > 0; found mean \(mean), std \(std)")
        }
        let file = try CaptionFile.parse(path: captionsFile)
        let config = PreprocessConfig(size: imageSize, mean: mean, std: std)

        // Distinct paths in first-use order; each is decoded once, on all cores.
        var pathIndex: [String: Int] = [:]
        var paths: [String] = []
        for row in file.rows where pathIndex[row.imagePath] == nil {
            pathIndex[row.imagePath] = paths.count
            paths.append(row.imagePath)
        }
        let decoded = Self.decodeAll(paths, config: config)

        var skipped = file.skipped
        var rows: [CaptionRow] = []
        var cropIndex: [Int] = []
        var crops: [UInt8] = []
        var cropOf = [Int?](repeating: nil, count: paths.count)
        let cropBytes = imageSize * imageSize * 3
        for row in file.rows {
            let p = pathIndex[row.imagePath]!
            switch decoded[p] {
            case .failure(let reason):
                skipped.append(SkippedRow(line: row.line, reason: reason))
            case .success(let rgb):
                if cropOf[p] == nil {
                    precondition(rgb.count == cropBytes, "Preprocessor.rgb8 returned \(rgb.count) bytes for a \(imageSize)² crop")
                    cropOf[p] = crops.count / cropBytes
                    crops += rgb
                }
                rows.append(row)
                cropIndex.append(cropOf[p]!)
            }
        }
        skipped.sort { $0.line < $1.line }
        guard !rows.isEmpty else { throw CaptionDataError.noUsableRows(path: captionsFile, skipped: skipped) }
        self.captionsFile = captionsFile
        self.imageSize = imageSize
        self.mean = mean
        self.std = std
        self.rows = rows
        self.skipped = skipped
        self.cropIndex = cropIndex
        self.crops = crops
        self.distinctImages = crops.count / cropBytes
    }

    /// The uint8 crop of each path, or why there is none.
    static func decodeAll(_ paths: [String], config: PreprocessConfig) -> [Result<[UInt8], SkipReason>] {
        var results = [Result<[UInt8], SkipReason>?](repeating: nil, count: paths.count)
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer  // each index is written by exactly one iteration
            DispatchQueue.concurrentPerform(iterations: paths.count) { i in
                out[i] = decode(paths[i], config: config)
            }
        }
        return results.map { $0! }
    }

    static func decode(_ path: String, config: PreprocessConfig) -> Result<[UInt8], SkipReason> {
        guard fileExists(path) else { return .failure(.missingImage(path: path)) }
        do {
            return .success(try Preprocessor.rgb8(ImageDecoder.decode(path: path), config: config))
        } catch {
            return .failure(.undecodableImage(path: path, detail: "\(error)"))
        }
    }

    /// The normalized pixels of pair `index`: [3, S, S] floats, (x / 255 − mean) / std.
    public func image(_ index: Int) -> [Float] {
        let n = imageSize * imageSize * 3, start = cropIndex[index] * n
        return Preprocessor.normalize(rgb: Array(crops[start..<(start + n)]), size: imageSize, mean: mean, std: std)
    }

    /// `batchSize` pairs drawn uniformly with replacement (one `rng.nextUInt64()` per draw):
    /// images [batchSize, 3, S, S] normalized, and their captions.
    public func trainingBatch(batchSize: Int, rng: inout SeededNormal) throws -> (images: [Float], captions: [String]) {
        guard batchSize > 0, batchSize <= 1 << 16 else {
            throw CaptionDataError.invalidArgument("batch size \(batchSize) is outside 1...65536")
        }
        var images: [Float] = []
        images.reserveCapacity(batchSize * 3 * imageSize * imageSize)
        var captions: [String] = []
        captions.reserveCapacity(batchSize)
        for _ in 0..<batchSize {
            // Modulo bias < count / 2⁶⁴: irrelevant for any dataset this holds in memory.
            let i = Int(rng.nextUInt64() % UInt64(rows.count))
            images += image(i)
            captions.append(rows[i].caption)
        }
        return (images, captions)
    }

    /// What was loaded and what was skipped, one skipped row per line (for the training log).
    public var summary: String {
        var s = "\(captionsFile): \(count) pairs from \(distinctImages) images"
        if skipped.isEmpty { return s + "; no rows skipped" }
        s += "; \(skipped.count) row\(skipped.count == 1 ? "" : "s") skipped:"
        for row in skipped { s += "\n  \(row)" }
        return s
    }
}
