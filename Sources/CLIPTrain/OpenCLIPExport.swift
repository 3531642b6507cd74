// Writes a trained model as an open_clip checkpoint directory — `open_clip_model.safetensors`
// plus `open_clip_config.json`, the layout of open_clip's HF-hub repos — so it goes through the
// same converter path as real checkpoints (`pocketclip convert DIR`) and loads in open_clip
// itself (`CLIP(**model_cfg).load_state_dict(load_file(...))`).
//
// From the canonical layout to open_clip's, through the model schema's names and transforms
// (CLIPSchema): conv1 [D, 3·P·P] is stored as [D, 3, P, P] (same bytes), both projections
// [E, D] are transposed to [D, E] (open_clip computes x @ proj), the logit scale is a 0-d tensor.
// Everything else is stored as is.
// Safetensors: an 8-byte little-endian header length, a JSON header (padded with spaces to a
// multiple of 8 so the F32 payloads stay aligned), then the payloads in header order.

import CLIPSupport

/// open_clip checkpoint export of a `CLIPTrainModel`.
///
///     try OpenCLIPExport.write(model, directory: "out/tiny-clip")   // then: pocketclip convert out/tiny-clip
public enum OpenCLIPExport {
    /// OpenAI CLIP's pixel normalization, open_clip's default.
    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// The model's tensors under open_clip's names, shapes and layouts, in layout order.
    public static func tensors(_ model: CLIPTrainModel) -> [(name: String, shape: [Int], values: [Float])] {
        model.checkpointTensors(.openCLIP)
    }

    /// The bytes of `open_clip_model.safetensors`.
    public static func safetensors(_ model: CLIPTrainModel) -> [UInt8] { safetensors(tensors(model)) }

    /// Safetensors bytes of named F32 tensors, in the given order (shared with `HFExport`).
    static func safetensors(_ ts: [(name: String, shape: [Int], values: [Float])]) -> [UInt8] {
        var header = "{\"__metadata__\":{\"format\":\"pt\"}"
        var offset = 0
        for t in ts {
            let bytes = t.values.count * 4
            header += ",\"\(t.name)\":{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while (8 + header.utf8.count) % 8 != 0 { header += " " }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.utf8.count + offset)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header.utf8)
        for t in ts {
            for x in t.values { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// The text of `open_clip_config.json`: model_cfg (open_clip's CLIPVisionCfg / CLIPTextCfg
    /// names) and preprocess_cfg with the pixel mean and std the model was trained with.
    public static func config(_ model: CLIPTrainModel, mean: [Float] = openAIMean, std: [Float] = openAIStd) -> String {
        let c = model.config
        func list(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ", ") + "]" }
        return """
        {
          "model_cfg": {
            "embed_dim": \(c.embedDim),
            "quick_gelu": \(c.activation == .quickGELU),
            "vision_cfg": {"image_size": \(c.imageSize), "patch_size": \(c.patchSize), "width": \(c.vision.width), \
        "layers": \(c.vision.layers), "head_width": \(c.vision.width / c.vision.heads), "mlp_ratio": \(Double(c.vision.mlpWidth) / Double(c.vision.width))},
            "text_cfg": {"context_length": \(c.contextLength), "vocab_size": \(c.vocabularySize), "width": \(c.text.width), \
        "heads": \(c.text.heads), "layers": \(c.text.layers), "mlp_ratio": \(Double(c.text.mlpWidth) / Double(c.text.width))}
          },
          "preprocess_cfg": {"mean": \(list(mean)), "std": \(list(std)), "interpolation": "bicubic", "resize_mode": "shortest"}
        }

        """
    }

    /// Writes both files into `directory` (which must exist), each through a temporary file
    /// renamed into place, so a crash never leaves a half-written checkpoint.
    public static func write(_ model: CLIPTrainModel, directory: String, mean: [Float] = openAIMean,
                             std: [Float] = openAIStd) throws {
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
            throw TrainError.invalidConfig("mean and std need 3 values each, std positive (found \(mean), \(std))")
        }
        let dir = directory.hasSuffix("/") ? directory : directory + "/"
        try writeAtomically(safetensors(model), to: dir + "open_clip_model.safetensors")
        try writeAtomically(Array(config(model, mean: mean, std: std).utf8), to: dir + "open_clip_config.json")
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw TrainError.io("cannot create '\(tmp)': \(String(cString: strerror(errno))); check that the directory exists and is writable")
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + written, bytes.count - written) }
            if n <= 0 {
                let why = String(cString: strerror(errno))
                close(fd); unlink(tmp)
                throw TrainError.io("writing '\(tmp)' failed after \(written) of \(bytes.count) bytes: \(why)")
            }
            written += n
        }
        // The descriptor is closed whatever fsync says (a long-running trainer must not leak one per
        // failed checkpoint), and the directory is synced after the rename so the new name survives
        // a power cut, not just the new bytes.
        let synced = fsync(fd) == 0
        let syncError = errno
        let closed = close(fd) == 0
        guard synced, closed, rename(tmp, path) == 0 else {
            let why = String(cString: strerror(synced ? errno : syncError))
            unlink(tmp)
            throw TrainError.io("could not finish '\(path)': \(why)")
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

extension CLIPTrainModel {
    /// Every parameter as `layout` stores it, in layout order: its names (HF's q, k, v are three),
    /// shapes and values, through the schema's transforms.
    func checkpointTensors(_ layout: CheckpointLayout) -> [(name: String, shape: [Int], values: [Float])] {
        let model = config.model
        return self.layout.views.flatMap { v in
            let values = Array(UnsafeBufferPointer(start: parameters.pointer + v.offset, count: v.count))
            return v.id.stored(Tensor(shape: v.shape, values: values), in: layout, config: model)
                .map { ($0.name, $0.tensor.shape, $0.tensor.values) }
        }
    }
}

/// write(2) at file scope, where `OpenCLIPExport.write` does not shadow it.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
