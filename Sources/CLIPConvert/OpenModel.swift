// One way to open "a model": a .pclip file, or a float checkpoint read straight from its files
// (an HF directory, an OpenCLIP directory or one .safetensors file). What the CLI's MODEL
// argument accepts, for library users too.

import CLIPFormat
import CLIPKernels
import CLIPRuntime
import CLIPSupport

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
            let model: CLIPModel
            do { model = try load(pclip: path, towers: options.towers, threads: threads) } catch {
                // A class head is a .pclip container too: say so rather than "no model object".
                if let file = try? PclipFile(path: path), file.metadata["model"] == nil, file.metadata["head"] != nil {
                    throw ModelError.invalidInput("'\(path)' is a class head (from pocketclip head build), not a model; give the .pclip model as MODEL and the head with --head")
                }
                throw error
            }
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

/// What MODEL may be, for the errors that refuse a file.
let modelAccepted = "MODEL is a .pclip file (pocketclip convert), an HF or OpenCLIP checkpoint directory, or a .safetensors file"

extension CLIPModel {
    /// What a file that cannot be a model looks like, judged from its first bytes ("it is a PNG
    /// image"); nil for a directory, a `.safetensors` name or bytes that may be safetensors (its
    /// reader checks those in full). Without this an image or a damaged .pclip reaches the
    /// safetensors reader, which reads its first 8 bytes as a header length of quintillions.
    ///
    ///     CLIPModel.describeNonModel("cat.jpg")   // "it is a JPEG image"
    public static func describeNonModel(_ path: String) -> String? { notAModel(path) }
}

func notAModel(_ path: String) -> String? {
    // A .safetensors name gets the reader's own, more precise, message.
    guard !isDirectory(path), !path.hasSuffix(".safetensors"), let file = try? ReadOnlyFile(path: path),
          let head = try? file.bytes(at: 0, count: min(file.size, 16)) else { return nil }
    func starts(_ prefix: [UInt8]) -> Bool { head.starts(with: prefix) }
    let firstBytes = "first bytes: " + (head.isEmpty ? "none, the file is empty" : head.prefix(8).map(hexByte).joined(separator: " "))
    if starts([0x89, 0x50, 0x4E, 0x47]) { return "it is a PNG image" }
    if starts([0xFF, 0xD8, 0xFF]) { return "it is a JPEG image" }
    if starts(Array("RIFF".utf8)) && head.count >= 12 && Array(head[8..<12]) == Array("WEBP".utf8) { return "it is a WebP image" }
    if starts(Array("PCLIPIDX".utf8)) { return "it is an embedding index (from pocketclip index build), not a model" }
    if starts([0x50, 0x4B, 0x03, 0x04]) {
        return "it is a zip archive (a PyTorch .pt/.bin checkpoint?); convert it to safetensors first"
    }
    if path.hasSuffix(".pclip") {
        return "it is named .pclip but does not start with the .pclip magic 89 50 43 4C 49 50 0D 0A (\(firstBytes)): it is damaged or not a .pclip file"
    }
    // safetensors: 8 bytes of header length, then the JSON header's "{".
    if head.count > 8 && head[8] == UInt8(ascii: "{") { return nil }
    return "it is not a .pclip file nor safetensors (\(firstBytes))"
}

/// Two hex digits, as the format specs print bytes: 0x0c → "0C".
private func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
