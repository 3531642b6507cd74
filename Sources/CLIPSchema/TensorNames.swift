// The one table of a CLIP model's tensor names. Each tensor is named here once for every layout
// it is stored in — the .pclip file, OpenCLIP (whose names are those of OpenAI's original CLIP),
// Hugging Face's `CLIPModel` — with its shape derived from the config and the transform each
// checkpoint layout applies to it (LayoutTransform.swift). The converter's checkpoint reader, the
// runtime's weight validation and .pclip loader, the .pclip writer, the trainer's parameters and
// its HF / OpenCLIP exporters all walk this table; nothing else spells a tensor name.
//
// The canonical layout (the runtime's, the trainer's and .pclip's): every linear weight [out, in];
// q, k, v stacked [3D, D] as OpenCLIP's `in_proj_weight`; conv1 flattened to [D, 3·P·P] in
// (channel, row, column) order; both projections [E, D]; the logit scale one value.
//
// What the layouts store differently (the rest is stored as the canonical tensor):
//
// | part              | .pclip (canonical)              | OpenCLIP / OpenAI                      | HF `CLIPModel`                                |
// |-------------------|---------------------------------|----------------------------------------|-----------------------------------------------|
// | patch embedding   | `vision.patch_embed` [D, 3·P·P] | `visual.conv1.weight` [D, 3, P, P]     | `…patch_embedding.weight` [D, 3, P, P]        |
// | attention in-proj | `…attn.qkv.weight` [3D, D]      | `…attn.in_proj_weight` [3D, D] (q;k;v) | `…self_attn.{q,k,v}_proj.weight`, each [D, D] |
// | image projection  | `vision.proj` [E, D]            | `visual.proj` [D, E] (x · W)           | `visual_projection.weight` [E, D] (x · Wᵀ)    |
// | text projection   | `text.proj` [E, D]              | `text_projection` [D, E] (x · W)       | `text_projection.weight` [E, D] (x · Wᵀ)      |
// | logit scale       | metadata `model.logit_scale`    | `logit_scale` []                       | `logit_scale` []                              |

/// The checkpoint layouts PocketCLIP reads (and its trainer writes).
public enum CheckpointLayout: String, Sendable, CaseIterable {
    /// open_clip's state dict. Its names are those of OpenAI's original CLIP (`model.py`), so an
    /// OpenAI checkpoint saved as safetensors is read in this layout.
    case openCLIP = "openclip"
    /// Hugging Face transformers' `CLIPModel`, as `save_pretrained` writes it.
    case huggingFace = "hf"

    /// OpenAI's CLIP checkpoints: open_clip kept their names, so they are the OpenCLIP layout.
    public static let openAI = CheckpointLayout.openCLIP
}

/// Each kind of tensor a CLIP model has: the rows of the table.
public enum TensorPart: Sendable, CaseIterable {
    // The vision tower outside its blocks.
    case patchEmbedding, classEmbedding, visionPositions, lnPreWeight, lnPreBias, lnPostWeight, lnPostBias,
         visionProjection
    // The text tower outside its blocks.
    case tokenEmbedding, textPositions, lnFinalWeight, lnFinalBias, textProjection
    // Inside every residual block of either tower.
    case ln1Weight, ln1Bias, qkvWeight, qkvBias, outWeight, outBias, ln2Weight, ln2Bias, fcWeight, fcBias,
         projWeight, projBias
    /// The model's log temperature: logits = exp(logit_scale) · cos.
    case logitScale

    /// The names of one part in each layout — relative to `<block root>.<index>.` for the parts
    /// inside a block, and to the tower's .pclip root for the .pclip names — and how each
    /// checkpoint layout stores it.
    struct Row {
        /// Nil for the logit scale, which a .pclip file keeps in its metadata (`model.logit_scale`).
        let pclip: String?
        let openCLIP: String
        /// One name, or three: HF stores the stacked in-projection as separate q, k, v.
        let huggingFace: [String]
        let openCLIPTransform: LayoutTransform
        let huggingFaceTransform: LayoutTransform

        init(_ pclip: String?, _ openCLIP: String, _ huggingFace: String...,
             openCLIP openCLIPTransform: LayoutTransform = .asIs, hf huggingFaceTransform: LayoutTransform = .asIs) {
            self.pclip = pclip
            self.openCLIP = openCLIP
            self.huggingFace = huggingFace
            self.openCLIPTransform = openCLIPTransform
            self.huggingFaceTransform = huggingFaceTransform
        }
    }

    /// The table.
    var row: Row {
        switch self {
        //                            .pclip             OpenCLIP / OpenAI               HF CLIPModel
        case .patchEmbedding: Row("patch_embed", "visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight",
                                  openCLIP: .convolution, hf: .convolution)
        case .classEmbedding: Row("class_embed", "visual.class_embedding", "vision_model.embeddings.class_embedding")
        case .visionPositions: Row("pos_embed", "visual.positional_embedding", "vision_model.embeddings.position_embedding.weight")
        case .lnPreWeight: Row("ln_pre.weight", "visual.ln_pre.weight", "vision_model.pre_layrnorm.weight")  // sic: HF's spelling
        case .lnPreBias: Row("ln_pre.bias", "visual.ln_pre.bias", "vision_model.pre_layrnorm.bias")
        case .lnPostWeight: Row("ln_post.weight", "visual.ln_post.weight", "vision_model.post_layernorm.weight")
        case .lnPostBias: Row("ln_post.bias", "visual.ln_post.bias", "vision_model.post_layernorm.bias")
        case .visionProjection: Row("proj", "visual.proj", "visual_projection.weight", openCLIP: .transpose)

        case .tokenEmbedding: Row("token_embed", "token_embedding.weight", "text_model.embeddings.token_embedding.weight")
        case .textPositions: Row("pos_embed", "positional_embedding", "text_model.embeddings.position_embedding.weight")
        case .lnFinalWeight: Row("ln_final.weight", "ln_final.weight", "text_model.final_layer_norm.weight")
        case .lnFinalBias: Row("ln_final.bias", "ln_final.bias", "text_model.final_layer_norm.bias")
        case .textProjection: Row("proj", "text_projection", "text_projection.weight", openCLIP: .transpose)

        case .ln1Weight: Row("ln_1.weight", "ln_1.weight", "layer_norm1.weight")
        case .ln1Bias: Row("ln_1.bias", "ln_1.bias", "layer_norm1.bias")
        case .qkvWeight: Row("attn.qkv.weight", "attn.in_proj_weight",
                             "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", hf: .splitQKV)
        case .qkvBias: Row("attn.qkv.bias", "attn.in_proj_bias",
                           "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias", hf: .splitQKV)
        case .outWeight: Row("attn.out.weight", "attn.out_proj.weight", "self_attn.out_proj.weight")
        case .outBias: Row("attn.out.bias", "attn.out_proj.bias", "self_attn.out_proj.bias")
        case .ln2Weight: Row("ln_2.weight", "ln_2.weight", "layer_norm2.weight")
        case .ln2Bias: Row("ln_2.bias", "ln_2.bias", "layer_norm2.bias")
        case .fcWeight: Row("mlp.fc.weight", "mlp.c_fc.weight", "mlp.fc1.weight")
        case .fcBias: Row("mlp.fc.bias", "mlp.c_fc.bias", "mlp.fc1.bias")
        case .projWeight: Row("mlp.proj.weight", "mlp.c_proj.weight", "mlp.fc2.weight")
        case .projBias: Row("mlp.proj.bias", "mlp.c_proj.bias", "mlp.fc2.bias")

        case .logitScale: Row(nil, "logit_scale", "logit_scale")
        }
    }

    /// The parts inside each residual block, in file order.
    public static let blockParts: [TensorPart] = [
        .ln1Weight, .ln1Bias, .qkvWeight, .qkvBias, .outWeight, .outBias,
        .ln2Weight, .ln2Bias, .fcWeight, .fcBias, .projWeight, .projBias,
    ]

    /// The parts of `tower` outside its blocks, in file order: those before the blocks and after.
    public static func stem(_ tower: ModelTensor.Tower) -> (beforeBlocks: [TensorPart], afterBlocks: [TensorPart]) {
        switch tower {
        case .vision: ([.patchEmbedding, .classEmbedding, .visionPositions, .lnPreWeight, .lnPreBias],
                       [.lnPostWeight, .lnPostBias, .visionProjection])
        case .text: ([.tokenEmbedding, .textPositions], [.lnFinalWeight, .lnFinalBias, .textProjection])
        }
    }

    /// True for the parts inside a block.
    public var isInBlock: Bool { Self.blockParts.contains(self) }

    /// A weight matrix (or the token embedding) that `--dtype q8|f16` narrows in a .pclip file;
    /// the rest (LayerNorms, biases, position and class embeddings) always stays f32.
    public var isMatrix: Bool {
        switch self {
        case .patchEmbedding, .visionProjection, .tokenEmbedding, .textProjection,
             .qkvWeight, .outWeight, .fcWeight, .projWeight: true
        default: false
        }
    }
}

/// One tensor of a CLIP model: a part of the table, in a tower, in a block.
///
///     let t = ModelTensor(.qkvWeight, .vision, block: 0)
///     t.pclipName                  // "vision.blocks.0.attn.qkv.weight"
///     t.names(in: .openCLIP)       // ["visual.transformer.resblocks.0.attn.in_proj_weight"]
///     t.names(in: .huggingFace)    // ["vision_model.encoder.layers.0.self_attn.q_proj.weight", …k…, …v…]
///     t.shape(config)              // [3·D, D]; HF stores three [D, D]
public struct ModelTensor: Hashable, Sendable, CustomStringConvertible {
    /// CLIP's two towers.
    public enum Tower: String, Sendable, CaseIterable {
        case vision, text

        /// What every .pclip name of the tower starts with, before a dot.
        public var pclipRoot: String {
            switch self {
            case .vision: "vision"
            case .text: "text"
            }
        }

        /// What the names of the tower's blocks start with in a .pclip file, before `.<index>.`.
        public var pclipBlockRoot: String { pclipRoot + ".blocks" }

        /// What the names of the tower's blocks start with in `layout`, before `.<index>.`.
        public func blockRoot(_ layout: CheckpointLayout) -> String {
            switch (self, layout) {
            case (.vision, .openCLIP): "visual.transformer.resblocks"
            case (.text, .openCLIP): "transformer.resblocks"
            case (.vision, .huggingFace): "vision_model.encoder.layers"
            case (.text, .huggingFace): "text_model.encoder.layers"
            }
        }
    }

    public let part: TensorPart
    /// Nil for the logit scale, which belongs to neither tower.
    public let tower: Tower?
    /// The block's index, for the parts inside a block.
    public let block: Int?

    /// A tensor outside the blocks.
    public init(_ part: TensorPart) {
        precondition(!part.isInBlock, "\(part) is inside a block: give its tower and block")
        self.part = part
        block = nil
        tower = Tower.allCases.first {
            let stem = TensorPart.stem($0)
            return stem.beforeBlocks.contains(part) || stem.afterBlocks.contains(part)
        }
    }

    /// A tensor of block `index` of `tower`.
    public init(_ part: TensorPart, _ tower: Tower, block index: Int) {
        precondition(part.isInBlock, "\(part) is not inside a block")
        self.part = part
        self.tower = tower
        block = index
    }

    /// The logit scale.
    public static let logitScale = ModelTensor(.logitScale)

    /// Its name in a .pclip file; nil for the logit scale, which the file keeps in its metadata.
    public var pclipName: String? {
        guard let relative = part.row.pclip, let tower else { return nil }
        guard let block else { return tower.pclipRoot + "." + relative }
        return "\(tower.pclipBlockRoot).\(block).\(relative)"
    }

    /// Its stored names in `layout`: one, or HF's q, k, v of the stacked in-projection.
    public func names(in layout: CheckpointLayout) -> [String] {
        let row = part.row
        let relative = layout == .openCLIP ? [row.openCLIP] : row.huggingFace
        guard let block, let tower else { return relative }
        return relative.map { "\(tower.blockRoot(layout)).\(block).\($0)" }
    }

    /// The name messages use and the trainer's parameter name: OpenCLIP's (which is OpenAI's),
    /// the names of the canonical layout.
    public var name: String { names(in: .openCLIP)[0] }

    public var description: String { name }

    /// How `layout` stores it, relative to the canonical layout.
    public func transform(_ layout: CheckpointLayout) -> LayoutTransform {
        layout == .openCLIP ? part.row.openCLIPTransform : part.row.huggingFaceTransform
    }

    /// Its shape in the canonical layout for a model with `config`.
    public func shape(_ c: CLIPConfig) -> [Int] {
        let t = tower == .text ? c.text.tower : c.vision.tower
        let d = t.width, h = t.mlpWidth, p = c.vision.patchSize
        switch part {
        case .patchEmbedding: return [d, 3 * p * p]
        case .classEmbedding, .lnPreWeight, .lnPreBias, .lnPostWeight, .lnPostBias, .lnFinalWeight, .lnFinalBias,
             .ln1Weight, .ln1Bias, .ln2Weight, .ln2Bias, .outBias, .projBias:
            return [d]
        case .visionPositions: return [c.vision.tokens, d]
        case .visionProjection, .textProjection: return [c.embedDim, d]
        case .tokenEmbedding: return [c.text.vocabularySize, d]
        case .textPositions: return [c.text.contextLength, d]
        case .qkvWeight: return [3 * d, d]
        case .qkvBias: return [3 * d]
        case .outWeight: return [d, d]
        case .fcWeight: return [h, d]
        case .fcBias: return [h]
        case .projWeight: return [d, h]
        case .logitScale: return []
        }
    }

    /// The shapes `layout` stores it in, one per name of `names(in:)`.
    public func storedShapes(in layout: CheckpointLayout, config c: CLIPConfig) -> [[Int]] {
        let s = shape(c)
        switch transform(layout) {
        case .asIs: return [s]
        case .transpose: return [Array(s.reversed())]
        case .splitQKV: return Array(repeating: [s[0] / 3] + s.dropFirst(), count: 3)
        case .convolution: return [[s[0], 3, c.vision.patchSize, c.vision.patchSize]]
        }
    }
}

extension ModelTensor {
    /// The tensors of one tower with `layers` blocks, in file order.
    public static func tower(_ tower: Tower, layers: Int) -> [ModelTensor] {
        let stem = TensorPart.stem(tower)
        return stem.beforeBlocks.map(ModelTensor.init)
            + (0..<layers).flatMap { i in TensorPart.blockParts.map { ModelTensor($0, tower, block: i) } }
            + stem.afterBlocks.map(ModelTensor.init)
    }

    /// Every tensor of a model with `config`, in file order: the vision tower (what comes before
    /// its blocks, the blocks, what comes after), the text tower likewise, then the logit scale.
    ///
    ///     for t in ModelTensor.all(config) { print(t.pclipName ?? "-", t.names(in: .huggingFace), t.shape(config)) }
    public static func all(_ config: CLIPConfig, vision: Bool = true, text: Bool = true, logitScale: Bool = true)
        -> [ModelTensor]
    {
        (vision ? tower(.vision, layers: config.vision.tower.layers) : [])
            + (text ? tower(.text, layers: config.text.tower.layers) : [])
            + (logitScale ? [.logitScale] : [])
    }

    /// What the names of `tower` start with in `layout`: each name's first component with its
    /// dot, or the whole name when it has none (OpenCLIP's text tower has top-level names such as
    /// `positional_embedding`). A checkpoint's leftover tensor with one of these prefixes belongs
    /// to that tower.
    public static func namePrefixes(of tower: Tower, in layout: CheckpointLayout) -> [String] {
        let stem = TensorPart.stem(tower)
        let names = (stem.beforeBlocks + stem.afterBlocks).flatMap { ModelTensor($0).names(in: layout) }
            + [tower.blockRoot(layout)]
        var prefixes: [String] = []
        for name in names {
            let prefix = name.firstIndex(of: ".").map { String(name[...$0]) } ?? name
            if !prefixes.contains(prefix) { prefixes.append(prefix) }
        }
        return prefixes
    }
}

/// The .pclip tensors that are not weights: the tokenizer's two files.
public enum PclipNames {
    /// The vocabulary, one token per line in id order.
    public static let vocabulary = "tokenizer.vocabulary"
    /// The BPE merges, one rule per line in rank order.
    public static let merges = "tokenizer.merges"
}
