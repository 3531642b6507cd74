// The one seam between the training loop and where its image–caption pairs come from: the
// synthetic Fashion-MNIST captions (`FashionMNISTSource`, here) or a user's folder of images
// with a captions file (`FolderDataset` in CLIPTrainData). The loop asks for batches and reads
// the pixel size and normalization the source used, which the exported model must declare.

import CLIPTrain

/// A source of training batches of normalized images and their captions.
///
///     var rng = SeededNormal(seed: 1)
///     let (images, captions) = try source.trainingBatch(batchSize: 64, rng: &rng)
///     // images: [64, 3, S, S] with S = source.imageSize; captions: 64 strings
public protocol TrainingSource {
    /// Side S of the square images a batch holds.
    var imageSize: Int { get }
    /// Per-channel (R, G, B) mean and std the pixels were normalized with, `(x − mean) / std` for
    /// x in 0…1: what the exported model's preprocessing config must say.
    var mean: [Float] { get }
    var std: [Float] { get }
    /// `batchSize` pairs drawn with replacement, every draw from `rng` (the same seed gives the
    /// same batch). images is [batchSize, 3, S, S], captions has batchSize entries.
    func trainingBatch(batchSize: Int, rng: inout SeededNormal) throws -> (images: [Float], captions: [String])
}

/// Fashion-MNIST garments with generated captions (`CaptionGenerator`) as a `TrainingSource`.
public struct FashionMNISTSource: TrainingSource, Sendable {
    public let images: IDXImages
    public let labels: [UInt8]
    public let generator: CaptionGenerator

    public init(images: IDXImages, labels: [UInt8], generator: CaptionGenerator) {
        self.images = images; self.labels = labels; self.generator = generator
    }

    public var imageSize: Int { generator.canvas }
    public var mean: [Float] { generator.mean }
    public var std: [Float] { generator.std }

    public func trainingBatch(batchSize: Int, rng: inout SeededNormal) throws -> (images: [Float], captions: [String]) {
        let batch = try generator.trainingBatch(images: images, labels: labels, batchSize: batchSize, rng: &rng)
        return (batch.images, batch.captions)
    }
}
