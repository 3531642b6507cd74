// Writes a trained model as a Hugging Face `CLIPModel` directory — `model.safetensors`,
// `config.json`, `preprocessor_config.json` and the tokenizer files — the layout
// `CLIPModel.save_pretrained` produces (transformers 5.24), so the result loads with
// `CLIPModel.from_pretrained(dir)` and goes through `pocketclip convert DIR` like any real checkpoint.
//
// From the canonical layout (Parameters.swift) to HF's, through the model schema's names and
// transforms (CLIPSchema): the stacked attention in-projection [3D, D] / bias [3D] is split into
// HF's separate q, k, v [D, D] / [D] (rows 0..<D are q, then k, then v, as in torch's
// MultiheadAttention); conv1 [D, 3·P·P] is stored as [D, 3, P, P] (same bytes); both projections
// stay [E, D] (HF's bias-free `nn.Linear`, which is the canonical layout already); the logit
// scale is a 0-d tensor, as `save_pretrained` writes it. `position_ids` are non-persistent
// buffers in transformers and are not saved.
//
// The directory appears whole or not at all: every file is written and fsynced in a fresh
// sibling directory that is then renamed into place (an existing export there is replaced).

import CLIPSupport

/// Hugging Face checkpoint export of a `CLIPTrainModel`.
///
///     let tok = try CLIPTokenizer.load(bpeFile: "bpe_simple_vocab_16e6.txt.gz")   // in the caller
///     let files = HFExport.tokenizerFiles(vocabulary: tok.vocabulary, merges: tok.mergeRules)
///     try HFExport.write(model, directory: "out/shapes-clip", tokenizerFiles: files)
///     // then: pocketclip convert out/shapes-clip -o shapes.pclip
public enum HFExport {
    /// One file written beside the weights (a tokenizer file), by plain file name.
    public struct File: Sendable, Equatable {
        public var name: String
        public var bytes: [UInt8]
        public init(name: String, bytes: [UInt8]) { self.name = name; self.bytes = bytes }
    }

    /// The files `write` creates itself; tokenizer files may not use these names.
    public static let modelFileNames = ["model.safetensors", "config.json", "preprocessor_config.json"]

    // MARK: contents

    /// The model's tensors under HF `CLIPModel` names and shapes, in layout order.
    public static func tensors(_ model: CLIPTrainModel) -> [(name: String, shape: [Int], values: [Float])] {
        model.checkpointTensors(.huggingFace)
    }

    /// The bytes of `model.safetensors`.
    public static func safetensors(_ model: CLIPTrainModel) -> [UInt8] { OpenCLIPExport.safetensors(tensors(model)) }

    /// The text of `config.json`: a `CLIPConfig` with `text_config` and `vision_config`. The text
    /// tower's bos/eos ids are the vocabulary's last two ids (49406/49407 for CLIP's 49408-token
    /// vocabulary), which makes transformers pool at the first EOT, the largest id, as CLIPTrain
    /// does; pad is 0, what open_clip's tokenizer pads with (the causal mask keeps padding after
    /// the EOT from reaching it, so the pad id never changes an embedding).
    public static func config(_ model: CLIPTrainModel) -> String {
        let c = model.config
        let act = c.activation == .quickGELU ? "quick_gelu" : "gelu"
        return """
        {
          "architectures": ["CLIPModel"],
          "model_type": "clip",
          "dtype": "float32",
          "projection_dim": \(c.embedDim),
          "logit_scale_init_value": 2.6592,
          "initializer_factor": 1.0,
          "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": \(c.vocabularySize),
            "max_position_embeddings": \(c.contextLength),
            "hidden_size": \(c.text.width),
            "intermediate_size": \(c.text.mlpWidth),
            "num_hidden_layers": \(c.text.layers),
            "num_attention_heads": \(c.text.heads),
            "projection_dim": \(c.embedDim),
            "hidden_act": "\(act)",
            "layer_norm_eps": 1e-05,
            "attention_dropout": 0.0,
            "bos_token_id": \(c.vocabularySize - 2),
            "eos_token_id": \(c.vocabularySize - 1),
            "pad_token_id": 0
          },
          "vision_config": {
            "model_type": "clip_vision_model",
            "image_size": \(c.imageSize),
            "patch_size": \(c.patchSize),
            "num_channels": 3,
            "hidden_size": \(c.vision.width),
            "intermediate_size": \(c.vision.mlpWidth),
            "num_hidden_layers": \(c.vision.layers),
            "num_attention_heads": \(c.vision.heads),
            "projection_dim": \(c.embedDim),
            "hidden_act": "\(act)",
            "layer_norm_eps": 1e-05,
            "attention_dropout": 0.0
          }
        }

        """
    }

    /// The text of `preprocessor_config.json` (`CLIPImageProcessor`): resize the shortest side
    /// to the image size with bicubic filtering (resample 3), center crop, scale by 1/255,
    /// normalize with the mean and std the model was trained with.
    public static func preprocessorConfig(imageSize: Int, mean: [Float], std: [Float]) -> String {
        func list(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ", ") + "]" }
        return """
        {
          "image_processor_type": "CLIPImageProcessor",
          "do_resize": true,
          "size": {"shortest_edge": \(imageSize)},
          "resample": 3,
          "do_center_crop": true,
          "crop_size": {"height": \(imageSize), "width": \(imageSize)},
          "do_rescale": true,
          "rescale_factor": 0.00392156862745098,
          "do_normalize": true,
          "image_mean": \(list(mean)),
          "image_std": \(list(std)),
          "do_convert_rgb": true
        }

        """
    }

    /// HF tokenizer files from a CLIP BPE vocabulary: `vocab.json` (token -> id), `merges.txt`
    /// (`#version: 0.2` then one `left right` rule per line, in rank order),
    /// `tokenizer_config.json` and `special_tokens_map.json`. open_clip's special-token spellings
    /// `<start_of_text>` / `<end_of_text>` are written as HF's `<|startoftext|>` / `<|endoftext|>`
    /// (same ids). The caller builds the vocabulary with the project's tokenizer, e.g.
    /// `CLIPTokenizer.load(bpeFile:)`'s `vocabulary` and `mergeRules`.
    public static func tokenizerFiles(vocabulary: [String], merges: [String], contextLength: Int = 77) -> [File] {
        let hfName = ["<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"]
        var vocab = "{"
        for (id, token) in vocabulary.enumerated() {
            vocab += (id == 0 ? "" : ",") + jsonQuoted(hfName[token] ?? token) + ":\(id)"
        }
        vocab += "}"  // compact, no final newline: byte-identical to the vocab.json of HF CLIP repos
        let mergesText = "#version: 0.2\n" + merges.map { $0 + "\n" }.joined()
        let special = """
            "bos_token": "<|startoftext|>",
            "eos_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>"
        """
        let tokenizerConfig = "{\n  \"tokenizer_class\": \"CLIPTokenizer\",\n  \"model_max_length\": \(contextLength),\n"
            + "  \"do_lower_case\": true,\n  \"errors\": \"replace\",\n\(special)\n}\n"
        return [File(name: "vocab.json", bytes: Array(vocab.utf8)),
                File(name: "merges.txt", bytes: Array(mergesText.utf8)),
                File(name: "tokenizer_config.json", bytes: Array(tokenizerConfig.utf8)),
                File(name: "special_tokens_map.json", bytes: Array("{\n\(special)\n}\n".utf8))]
    }


    // MARK: writing

    /// Writes the HF directory `directory`: the weights, both configs and `tokenizerFiles`
    /// (from `tokenizerFiles(vocabulary:merges:)`, or copies of an HF tokenizer's files, or
    /// `bpe_simple_vocab_16e6.txt.gz` — the converter reads any of them; with none,
    /// `pocketclip convert` needs `--tokenizer`). Everything is written into a fresh sibling
    /// directory first and renamed into place. An existing `directory` is replaced only if it
    /// is empty or holds nothing but files an export writes; anything else is refused.
    public static func write(_ model: CLIPTrainModel, directory: String, tokenizerFiles: [File],
                             mean: [Float] = OpenCLIPExport.openAIMean, std: [Float] = OpenCLIPExport.openAIStd) throws {
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw TrainError.invalidConfig("mean and std need 3 finite values each, std positive (found \(mean), \(std))")
        }
        var names = Set(modelFileNames)
        for f in tokenizerFiles {
            guard !f.name.isEmpty, !f.name.contains("/"), f.name != ".", f.name != ".." else {
                throw TrainError.io("tokenizer file name '\(f.name)' must be a plain file name (no '/'), e.g. vocab.json")
            }
            guard names.insert(f.name).inserted else {
                throw TrainError.io("tokenizer file '\(f.name)' is given twice or collides with a model file (\(modelFileNames.joined(separator: ", ")))")
            }
        }
        var target = directory
        while target.count > 1 && target.hasSuffix("/") { target.removeLast() }
        guard !target.isEmpty else { throw TrainError.io("the export directory path is empty; name a directory, e.g. out/my-clip") }

        // Refuse before writing anything if the target is something we may not replace.
        let existing = try exportEntries(target, alsoAllowed: tokenizerFiles.map(\.name))

        let parent = target.contains("/") ? String(target[..<target.lastIndex(of: "/")!]) : "."
        var template = Array(((parent.isEmpty ? "" : parent) + "/.hfexport-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TrainError.io("cannot create a temporary directory in '\(parent.isEmpty ? "/" : parent)': \(String(cString: strerror(errno))); check that it exists and is writable")
        }
        let staging = String(cString: made)
        chmod(staging, 0o755)  // mkdtemp makes it 0700; an export is an ordinary readable directory
        var written: [String] = []
        do {
            let files = [File(name: "model.safetensors", bytes: safetensors(model)),
                         File(name: "config.json", bytes: Array(config(model).utf8)),
                         File(name: "preprocessor_config.json",
                              bytes: Array(preprocessorConfig(imageSize: model.config.imageSize, mean: mean, std: std).utf8))]
                + tokenizerFiles
            for f in files {
                try OpenCLIPExport.writeAtomically(f.bytes, to: staging + "/" + f.name)
                written.append(f.name)
            }
            try install(staging: staging, target: target, existing: existing)
        } catch {
            for name in written { unlink(staging + "/" + name) }
            rmdir(staging)
            throw error
        }
    }

    /// The entries of an existing target directory (nil if there is none), after checking that
    /// replacing it cannot destroy anything but an earlier export.
    static func exportEntries(_ target: String, alsoAllowed: [String]) throws -> [String]? {
        var st = stat()
        guard lstat(target, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw TrainError.io("cannot inspect '\(target)': \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw TrainError.io("'\(target)' exists and is not a directory; choose another export directory")
        }
        guard let dir = opendir(target) else {
            throw TrainError.io("cannot list '\(target)': \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var entries: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: &e.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { entries.append(name) }
        }
        let allowed = Set(modelFileNames + ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
                                            "tokenizer.json", "bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt"]
                          + alsoAllowed)
        func isFile(_ name: String) -> Bool {
            var st = stat()
            return lstat(target + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }
        let foreign = entries.filter { !allowed.contains($0) || !isFile($0) }.sorted()
        guard foreign.isEmpty else {
            throw TrainError.io("'\(target)' exists and holds files an export does not write (\(foreign.prefix(3).joined(separator: ", "))); export into a new or empty directory")
        }
        return entries
    }

    /// Moves the finished staging directory to `target`. An earlier export is first renamed
    /// aside and removed afterwards, so at every instant `target` is either the old complete
    /// export, absent, or the new complete one.
    static func install(staging: String, target: String, existing: [String]?) throws {
        func fail(_ what: String) -> TrainError { TrainError.io("\(what): \(String(cString: strerror(errno)))") }
        guard let existing else {
            guard rename(staging, target) == 0 else { throw fail("cannot move the export into '\(target)'") }
            return
        }
        let aside = staging + ".old"
        guard rename(target, aside) == 0 else { throw fail("cannot move the earlier export '\(target)' aside") }
        guard rename(staging, target) == 0 else {
            let why = fail("cannot move the export into '\(target)'")
            rename(aside, target)
            throw why
        }
        for name in existing { unlink(aside + "/" + name) }
        rmdir(aside)
    }
}
