#!/usr/bin/env python3
"""Golden values for one (and a second) CLIP training step, from open_clip's own model.

    VENV/bin/python tools/goldens/train-step-parity.py   # a venv with torch, open_clip_torch, safetensors
    # writes Tests/Fixtures/train/train_step.safetensors (QuickGELU) and train_step_gelu.safetensors (nn.GELU)

Builds a tiny open_clip `CLIP` (QuickGELU, and again with exact GELU; ViT 16x16 images, patch 4, width 16, 2 layers, 2 heads;
text vocab 64, context 8, width 16, 2 layers; embed 8) with open_clip's initialization, then
perturbs every LayerNorm gain/bias and linear bias (open_clip starts them at 1/0) so their
gradients are exercised. One batch: 4 random images and 4 token rows (SOT, ids, EOT = 63 the
largest id, zero padding). The step runs in float64 from the float32 initial weights, so the golden
is the exact answer to float32 rounding:

    loss = open_clip.loss.ClipLoss()(*model(images, tokens))
    torch.optim.AdamW([decay: matmul weights, no decay: gains, biases, embeddings, logit scale],
                      lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)

The file holds, in the project's canonical layout (linear weights [out, in], conv1 as
[D, 3*P*P], visual.proj and text_projection as [embed, D], logit_scale as [1]):
  init.<name>, grad.<name> and grad2.<name> (the gradients of steps 1 and 2), step1.<name>,
  step2.<name> (parameters after each AdamW step; step 2 reuses the batch), images [4,3,16,16],
  tokens int32 [4,8], loss [2]. The Swift test bounds each parameter's difference after a step
  by what AdamW makes of the two sides' gradient difference, so it needs both steps' gradients.
"""
import os
import sys

import torch
from open_clip.loss import ClipLoss
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "train")
DECAY_SUFFIXES = ("conv1.weight", "in_proj_weight", "out_proj.weight", "c_fc.weight", "c_proj.weight",
                  "visual.proj", "text_projection")
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.98), 1e-6, 0.2
B, S, P, CTX, VOCAB = 4, 16, 4, 8, 64


def build(quick_gelu):
    torch.manual_seed(0)
    model = CLIP(embed_dim=8,
                 vision_cfg=CLIPVisionCfg(layers=2, width=16, head_width=8, image_size=S, patch_size=P),
                 text_cfg=CLIPTextCfg(context_length=CTX, vocab_size=VOCAB, width=16, heads=2, layers=2),
                 quick_gelu=quick_gelu)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name or name.startswith("ln_") or "ln_final" in name:
                p.add_(0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
    return model


def canonical(name, t):
    """open_clip tensor -> the project's canonical layout."""
    if name == "visual.conv1.weight":
        return t.reshape(t.shape[0], -1)
    if name in ("visual.proj", "text_projection"):
        return t.t()
    if name == "logit_scale":
        return t.reshape(1)
    return t


def batch():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(B, 3, S, S, generator=g)
    tokens = torch.zeros(B, CTX, dtype=torch.long)
    for b, n in enumerate([6, 3, 8, 1]):  # text lengths incl. SOT/EOT; row 2 fills the context
        ids = torch.randint(1, VOCAB - 2, (n,), generator=g)
        row = [VOCAB - 2] + ids.tolist()[: max(n - 2, 0)] + [VOCAB - 1]
        row = row[:CTX - 1] + [VOCAB - 1] if len(row) > CTX else row
        tokens[b, : len(row)] = torch.tensor(row)
    return images, tokens


def write(quick_gelu, path):
    model = build(quick_gelu).double()
    params = dict(model.named_parameters())
    images, tokens = batch()
    images = images.double()
    out = {"images": images.float().contiguous(), "tokens": tokens.int().contiguous()}
    for n, p in params.items():
        out["init." + n] = canonical(n, p.detach().float()).contiguous()
    decay = [p for n, p in params.items() if n.endswith(DECAY_SUFFIXES)]
    rest = [p for n, p in params.items() if not n.endswith(DECAY_SUFFIXES)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": rest, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    loss_fn = ClipLoss()
    losses = []
    for step in (1, 2):
        opt.zero_grad()
        img_f, txt_f, scale = model(images, tokens)
        loss = loss_fn(img_f, txt_f, scale)
        loss.backward()
        losses.append(loss.item())
        for n, p in params.items():
            out[("grad." if step == 1 else "grad2.") + n] = canonical(n, p.grad.detach().float()).contiguous()
        opt.step()
        with torch.no_grad():  # open_clip's clamp after each step (inactive here)
            model.logit_scale.clamp_(0, 4.605170186)
        for n, p in params.items():
            out[f"step{step}." + n] = canonical(n, p.detach().float()).contiguous()
    out["loss"] = torch.tensor(losses, dtype=torch.float32)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file(out, path)
    print(f"loss {losses}, {len(params)} parameters, wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)",
          file=sys.stderr)


def main():
    write(True, os.path.join(FIXTURES, "train_step.safetensors"))
    write(False, os.path.join(FIXTURES, "train_step_gelu.safetensors"))


if __name__ == "__main__":
    main()
