// One way to open "a model": a .pclip file, or a float checkpoint read straight from its files
// (an HF directory, an OpenCLIP directory or one .safetensors file). What the CLI's MODEL
// argument accepts, for library users too.

import CLIPKernels
import CLIPRuntime

extension CLIPModel {
    /// Opens `path`, a .pclip file or a float checkpoint, with only `options.towers` loaded.
    /// `options` fills what a checkpoint's files may not say; a .pclip file says it all and only
    /// its towers are read.
    ///
    ///     let model = try CLIPModel.open("vit-b32.pclip")
    ///     let scores = try model.classify(imagePath: "cat.jpg", labels: ["cat", "dog"])
    public static func open(_ path: String, options: CheckpointOptions = CheckpointOptions(),
                            threads: Int = WorkerPool.availableCores) throws -> CLIPModel {
        if isPclip(path) {
            let model = try load(pclip: path, towers: options.towers, threads: threads)
            if let asked = options.activation, asked != model.config.activation {
                throw CheckpointError.activationFixed(path: path, asked: asked, has: model.config.activation)
            }
            return model
        }
        let c = try CheckpointLoader.load(path, options: options)
        return try CLIPModel(config: c.config, weights: c.weights, preprocess: c.preprocess, tokenizer: c.tokenizer,
                             threads: threads)
    }
}
