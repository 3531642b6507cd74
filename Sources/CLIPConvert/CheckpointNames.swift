// The one table of checkpoint tensor names. Each part of a CLIP model is named here once for
// each layout; nothing else in the project spells a checkpoint key.
//
// | part                | OpenCLIP / OpenAI                       | HF `CLIPModel`                                       |
// |---------------------|-----------------------------------------|------------------------------------------------------|
// | attention in-proj   | `…attn.in_proj_weight` [3D, D] (q;k;v)  | `…self_attn.{q,k,v}_proj.weight`, each [D, D]        |
// | image projection    | `visual.proj` [D, E] (x · W)            | `visual_projection.weight` [E, D] (Linear, x · Wᵀ)   |
// | text projection     | `text_projection` [D, E] (x · W)        | `text_projection.weight` [E, D] (Linear)             |
//

/// The two checkpoint layouts PocketCLIP reads.
public enum CheckpointLayout: String, Sendable, CaseIterable {
    case openCLIP = "openclip"
    case huggingFace = "hf"
}

/// How a stored tensor becomes the runtime's canonical [out, in] layout.
enum NameTransform {
    /// Stored as the runtime wants it (possibly reshaped, e.g. conv1 [D,3,P,P] → [D, 3·P·P]).
    case asIs
    /// Stored as x · W ([in, out]); transposed to [out, in].
    case transpose
    /// Three HF tensors (q, k, v) stacked along the first dimension.
    case stackQKV
}

/// One named part: its OpenCLIP name (the canonical name in messages), its HF name(s) — three
/// for the q, k, v parts that HF stores apart — and how each becomes the runtime layout.
struct WeightName {
    let openCLIP: String
    let huggingFace: [String]
    let openCLIPTransform: NameTransform
    let huggingFaceTransform: NameTransform

    init(_ openCLIP: String, _ huggingFace: String...,
         openCLIPTransform: NameTransform = .asIs, huggingFaceTransform: NameTransform = .asIs) {
        self.openCLIP = openCLIP
        self.huggingFace = huggingFace
        self.openCLIPTransform = openCLIPTransform
        self.huggingFaceTransform = huggingFaceTransform
    }

    /// The stored names in `layout`, each after `prefix` (a block's prefix, or "").
    func names(_ layout: CheckpointLayout, prefix: String = "") -> [String] {
        layout == .openCLIP ? [prefix + openCLIP] : huggingFace.map { prefix + $0 }
    }

    func transform(_ layout: CheckpointLayout) -> NameTransform {
        layout == .openCLIP ? openCLIPTransform : huggingFaceTransform
    }
}

enum Names {
    // Vision tower.
    static let patchEmbedding = WeightName("visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight")
    static let classEmbedding = WeightName("visual.class_embedding", "vision_model.embeddings.class_embedding")
    static let visionPositions = WeightName("visual.positional_embedding", "vision_model.embeddings.position_embedding.weight")
    static let lnPreWeight = WeightName("visual.ln_pre.weight", "vision_model.pre_layrnorm.weight")
    static let lnPreBias = WeightName("visual.ln_pre.bias", "vision_model.pre_layrnorm.bias")
    static let lnPostWeight = WeightName("visual.ln_post.weight", "vision_model.post_layernorm.weight")
    static let lnPostBias = WeightName("visual.ln_post.bias", "vision_model.post_layernorm.bias")
    static let visionProjection = WeightName("visual.proj", "visual_projection.weight", openCLIPTransform: .transpose)

    // Text tower.
    static let tokenEmbedding = WeightName("token_embedding.weight", "text_model.embeddings.token_embedding.weight")
    static let textPositions = WeightName("positional_embedding", "text_model.embeddings.position_embedding.weight")
    static let lnFinalWeight = WeightName("ln_final.weight", "text_model.final_layer_norm.weight")
    static let lnFinalBias = WeightName("ln_final.bias", "text_model.final_layer_norm.bias")
    static let textProjection = WeightName("text_projection", "text_projection.weight", openCLIPTransform: .transpose)

    static let logitScale = WeightName("logit_scale", "logit_scale")

    /// The prefix of block `index` of a tower.
    static func blockPrefix(vision: Bool, _ layout: CheckpointLayout, index: Int) -> String {
        blockRoot(vision: vision, layout) + "\(index)."
    }

    /// What every block name of a tower starts with, before the index.
    static func blockRoot(vision: Bool, _ layout: CheckpointLayout) -> String {
        switch (vision, layout) {
        case (true, .openCLIP): return "visual.transformer.resblocks."
        case (false, .openCLIP): return "transformer.resblocks."
        case (true, .huggingFace): return "vision_model.encoder.layers."
        case (false, .huggingFace): return "text_model.encoder.layers."
        }
    }

    /// Names inside one block, relative to its prefix.
    static let ln1Weight = WeightName("ln_1.weight", "layer_norm1.weight")
    static let ln1Bias = WeightName("ln_1.bias", "layer_norm1.bias")
    static let qkvWeight = WeightName(
        "attn.in_proj_weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        huggingFaceTransform: .stackQKV)
    static let qkvBias = WeightName(
        "attn.in_proj_bias", "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
        huggingFaceTransform: .stackQKV)
    static let outWeight = WeightName("attn.out_proj.weight", "self_attn.out_proj.weight")
    static let outBias = WeightName("attn.out_proj.bias", "self_attn.out_proj.bias")
    static let ln2Weight = WeightName("ln_2.weight", "layer_norm2.weight")
    static let ln2Bias = WeightName("ln_2.bias", "layer_norm2.bias")
    static let fcWeight = WeightName("mlp.c_fc.weight", "mlp.fc1.weight")
    static let fcBias = WeightName("mlp.c_fc.bias", "mlp.fc1.bias")
    static let projWeight = WeightName("mlp.c_proj.weight", "mlp.fc2.weight")
    static let projBias = WeightName("mlp.c_proj.bias", "mlp.fc2.bias")
}
