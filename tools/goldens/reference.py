"""Plain-torch CLIP forward pass and the HF <-> OpenCLIP weight-name mapping.

This is the independent reference that tools/goldens/make-fixtures.py holds both libraries to:
it reads nothing but a flat state dict in HF `CLIPModel` names and computes, with explicit
matrix products, exactly what the Swift encoders compute. Running it in float64 gives the
"true" values the float32 goldens are compared with, which is where the tolerance hints in
golden.json come from.

It handles the two CLIP towers of the ViT / causal-text architecture (pre-LN residual
blocks, QuickGELU or exact GELU, class-token pooling, EOT pooling). It does not handle
attentional pooling, layer scale, QK-norm or any other open_clip variants.
"""

import math

import torch
import torch.nn.functional as F

LN_EPS = 1e-5
EOT_ID = 49407


# ----------------------------------------------------------------------------------------
# Name mapping: one table, used in both directions.

# (HF suffix inside a block, OpenCLIP suffix inside a resblock); q/k/v are handled apart
# because OpenCLIP stacks them into one in_proj tensor.
_BLOCK_PAIRS = [
    ("layer_norm1.weight", "ln_1.weight"),
    ("layer_norm1.bias", "ln_1.bias"),
    ("layer_norm2.weight", "ln_2.weight"),
    ("layer_norm2.bias", "ln_2.bias"),
    ("self_attn.out_proj.weight", "attn.out_proj.weight"),
    ("self_attn.out_proj.bias", "attn.out_proj.bias"),
    ("mlp.fc1.weight", "mlp.c_fc.weight"),
    ("mlp.fc1.bias", "mlp.c_fc.bias"),
    ("mlp.fc2.weight", "mlp.c_proj.weight"),
    ("mlp.fc2.bias", "mlp.c_proj.bias"),
]

# Tensors outside the blocks. "T" marks a projection stored transposed in OpenCLIP
# (HF Linear weight [out, in] used as x @ W^T; OpenCLIP parameter [in, out] used as x @ W).
_TOP_PAIRS = [
    ("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight", ""),
    ("vision_model.embeddings.class_embedding", "visual.class_embedding", ""),
    ("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding", ""),
    ("vision_model.pre_layrnorm.weight", "visual.ln_pre.weight", ""),
    ("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias", ""),
    ("vision_model.post_layernorm.weight", "visual.ln_post.weight", ""),
    ("vision_model.post_layernorm.bias", "visual.ln_post.bias", ""),
    ("visual_projection.weight", "visual.proj", "T"),
    ("text_model.embeddings.token_embedding.weight", "token_embedding.weight", ""),
    ("text_model.embeddings.position_embedding.weight", "positional_embedding", ""),
    ("text_model.final_layer_norm.weight", "ln_final.weight", ""),
    ("text_model.final_layer_norm.bias", "ln_final.bias", ""),
    ("text_projection.weight", "text_projection", "T"),
    ("logit_scale", "logit_scale", ""),
]

_TOWERS = [("vision_model.encoder.layers", "visual.transformer.resblocks"),
           ("text_model.encoder.layers", "transformer.resblocks")]


def count_layers(sd, prefix):
    n = 0
    while f"{prefix}.{n}.layer_norm1.weight" in sd or f"{prefix}.{n}.ln_1.weight" in sd:
        n += 1
    return n


def openclip_to_hf(sd):
    """OpenCLIP state dict -> HF CLIPModel names (logit_scale kept as a 0-d tensor)."""
    out = {}
    for hf, oc, how in _TOP_PAIRS:
        t = sd[oc]
        out[hf] = t.t().contiguous() if how == "T" else t.reshape(()) if hf == "logit_scale" else t
    for hf_pre, oc_pre in _TOWERS:
        for i in range(count_layers(sd, oc_pre)):
            for hf_s, oc_s in _BLOCK_PAIRS:
                out[f"{hf_pre}.{i}.{hf_s}"] = sd[f"{oc_pre}.{i}.{oc_s}"]
            w = sd[f"{oc_pre}.{i}.attn.in_proj_weight"]  # [3D, D]: rows q, then k, then v
            b = sd[f"{oc_pre}.{i}.attn.in_proj_bias"]
            for j, name in enumerate("qkv"):
                d = w.shape[0] // 3
                out[f"{hf_pre}.{i}.self_attn.{name}_proj.weight"] = w[j * d:(j + 1) * d]
                out[f"{hf_pre}.{i}.self_attn.{name}_proj.bias"] = b[j * d:(j + 1) * d]
    return out


def hf_to_openclip(sd):
    """HF CLIPModel state dict -> OpenCLIP names (the inverse of openclip_to_hf)."""
    out = {}
    for hf, oc, how in _TOP_PAIRS:
        t = sd[hf]
        out[oc] = t.t().contiguous() if how == "T" else t
    for hf_pre, oc_pre in _TOWERS:
        for i in range(count_layers(sd, hf_pre)):
            for hf_s, oc_s in _BLOCK_PAIRS:
                out[f"{oc_pre}.{i}.{oc_s}"] = sd[f"{hf_pre}.{i}.{hf_s}"]
            p = f"{hf_pre}.{i}.self_attn"
            out[f"{oc_pre}.{i}.attn.in_proj_weight"] = torch.cat(
                [sd[f"{p}.{n}_proj.weight"] for n in "qkv"], 0)
            out[f"{oc_pre}.{i}.attn.in_proj_bias"] = torch.cat(
                [sd[f"{p}.{n}_proj.bias"] for n in "qkv"], 0)
    return out


# ----------------------------------------------------------------------------------------
# Forward pass over an HF-named state dict.

def _act(x, kind):
    if kind == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if kind == "gelu":  # exact (erf) GELU, as nn.GELU() and HF "gelu"
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    raise ValueError(f"unknown activation {kind!r}")


def _ln(x, sd, name):
    return F.layer_norm(x, x.shape[-1:], sd[name + ".weight"], sd[name + ".bias"], LN_EPS)


def _linear(x, sd, name):
    return x @ sd[name + ".weight"].t() + sd[name + ".bias"]


def _block(x, sd, p, heads, act, causal):
    # x: [B, T, D]; pre-LN residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
    b, t, d = x.shape
    hd = d // heads
    h = _ln(x, sd, f"{p}.layer_norm1")
    q, k, v = (_linear(h, sd, f"{p}.self_attn.{n}_proj").view(b, t, heads, hd).transpose(1, 2)
               for n in "qkv")  # each [B, H, T, hd]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)  # [B, H, T, T]
    if causal:
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    a = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
    x = x + _linear(a, sd, f"{p}.self_attn.out_proj")
    h = _ln(x, sd, f"{p}.layer_norm2")
    return x + _linear(_act(_linear(h, sd, f"{p}.mlp.fc1"), act), sd, f"{p}.mlp.fc2")


def vision_forward(sd, pixels, heads, act):
    """pixels [N, 3, S, S] -> (hidden list of [N, 1+g*g, D], pooled [N, D], embeds [N, P])."""
    w = sd["vision_model.embeddings.patch_embedding.weight"]  # [D, 3, p, p]
    x = F.conv2d(pixels, w, stride=w.shape[-1])  # [N, D, g, g]
    x = x.flatten(2).transpose(1, 2)  # [N, g*g, D]
    cls = sd["vision_model.embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], 1) + sd["vision_model.embeddings.position_embedding.weight"]
    x = _ln(x, sd, "vision_model.pre_layrnorm")
    hidden = [x]
    for i in range(count_layers(sd, "vision_model.encoder.layers")):
        x = _block(x, sd, f"vision_model.encoder.layers.{i}", heads, act, causal=False)
        hidden.append(x)
    pooled = _ln(x[:, 0], sd, "vision_model.post_layernorm")
    return hidden, pooled, pooled @ sd["visual_projection.weight"].t()


def eot_positions(ids):
    """Index of the first EOT in each row (equals open_clip's argmax with 0 padding)."""
    return (ids == EOT_ID).int().argmax(-1)


def text_forward(sd, ids, heads, act):
    """ids [M, T] int64 -> (hidden list of [M, T, D], pooled [M, D], embeds [M, P])."""
    x = sd["text_model.embeddings.token_embedding.weight"][ids]
    x = x + sd["text_model.embeddings.position_embedding.weight"][: ids.shape[1]]
    hidden = [x]
    for i in range(count_layers(sd, "text_model.encoder.layers")):
        x = _block(x, sd, f"text_model.encoder.layers.{i}", heads, act, causal=True)
        hidden.append(x)
    x = x[torch.arange(ids.shape[0]), eot_positions(ids)]
    pooled = _ln(x, sd, "text_model.final_layer_norm")
    return hidden, pooled, pooled @ sd["text_projection.weight"].t()


def logits(image_embeds, text_embeds, logit_scale):
    """exp(scale) * cosine similarity, [N, M]."""
    i = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    t = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
    return logit_scale.exp() * i @ t.t()
