#!/usr/bin/env python3
"""Checks CLIPTrain's HF export against the references: the HF directory must load in
transformers' CLIPModel with no missing, unexpected or mismatched keys, and give the same image and
text embeddings as the same weights exported by OpenCLIPExport and loaded in open_clip (strict).
This script exports nothing; the Swift test writes the directories:

    HFEXPORT_PARITY_DIR=/tmp/hfexport-parity swift test --filter HFExportTests/testWriteParityExports
    VENV/bin/python tools/goldens/hf-export-parity.py /tmp/hfexport-parity
    VENV/bin/python tools/goldens/hf-export-parity.py /tmp/hfexport-parity --write-golden   # also rewrites the fixture
    VENV/bin/python tools/goldens/hf-export-parity.py /tmp/hfexport-parity --pocketclip .build/debug/pocketclip

--write-golden stores transformers' loss on one batch for the tiny GELU export in
Tests/Fixtures/hfexport/tiny_gelu_loss.safetensors (images [4,3,16,16] F32, tokens [4,8] I32,
loss [1] F32, image_embeds/text_embeds [4,8] F32), which HFExportTests.testLossEqualsTransformersOnTheExport
holds CLIPTrain's loss on the same seeded model to.

For the full-vocabulary export it also checks the generated tokenizer files: transformers'
CLIPTokenizer loaded from the export gives open_clip's ids. With --pocketclip BIN it runs
`BIN convert full-vocab-hf -o ... --dtype f32` and `BIN embed` on a generated PNG and a caption,
and compares with transformers on the same image preprocessed by open_clip (Pillow).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import open_clip
from open_clip.model import CLIP
from safetensors.torch import load_file, save_file
from PIL import Image, ImageDraw
from transformers import CLIPModel, CLIPTokenizer

# Float32 on both sides through the same layers with different kernels (sdpa vs open_clip's
# attention, different GEMM shapes): rounding differences are ~1e-7 of values of size ~1; a
# wrong name, q/k/v order or transpose gives differences of order 1e-1.
EMBED_TOLERANCE = 1e-5
# pocketclip's f32 runtime vs transformers: the same float32 arithmetic in another order, on
# pixels that are bit-exact with open_clip's preprocessing (docs/preprocessing.md); the CLI
# prints 8 significant digits.
POCKETCLIP_TOLERANCE = 1e-4

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "hfexport", "tiny_gelu_loss.safetensors")


def load_hf(path):
    model, info = CLIPModel.from_pretrained(path, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        sys.exit(f"{path}: transformers loading info not clean: {bad}")
    return model.eval()


def load_open_clip(path):
    cfg = json.load(open(os.path.join(path, "open_clip_config.json")))["model_cfg"]
    model = CLIP(**cfg)
    model.load_state_dict(load_file(os.path.join(path, "open_clip_model.safetensors")), strict=True)
    return model.eval()


def batch(hf, vocab_size, context, image_size, gen, texts=None):
    images = torch.randn(4, 3, image_size, image_size, generator=gen)
    if texts is not None:
        tokens = open_clip.get_tokenizer("ViT-B-32", context_length=context)(texts)
    else:
        # SOT = vocab-2, random ids below it, EOT = vocab-1 (the largest id), zero padding.
        tokens = torch.zeros(4, context, dtype=torch.long)
        for b in range(4):
            n = 2 + b % (context - 2)
            tokens[b, 0] = vocab_size - 2
            tokens[b, 1:n] = torch.randint(1, vocab_size - 2, (n - 1,), generator=gen)
            tokens[b, n] = vocab_size - 1
    return images, tokens


def compare(name, root, gen, write_golden):
    hf = load_hf(os.path.join(root, f"{name}-hf"))
    oc = load_open_clip(os.path.join(root, f"{name}-openclip"))
    tc, vc = hf.config.text_config, hf.config.vision_config
    texts = None
    if tc.vocab_size == 49408:
        texts = ["a photo of a red circle.", "two blue squares", "a green triangle on white", "Hello, World!"]
    images, tokens = batch(hf, tc.vocab_size, tc.max_position_embeddings, vc.image_size, gen, texts)
    with torch.no_grad():
        hf_img = hf.get_image_features(pixel_values=images).pooler_output
        hf_txt = hf.get_text_features(input_ids=tokens).pooler_output
        oc_img = oc.encode_image(images)
        oc_txt = oc.encode_text(tokens)
        out = hf(input_ids=tokens, pixel_values=images, return_loss=True)
    di = (hf_img - oc_img).abs().max().item()
    dt = (hf_txt - oc_txt).abs().max().item()
    print(f"{name}: hidden_act {vc.hidden_act}; image embeds max|hf - open_clip| = {di:.3g} "
          f"(max |value| {oc_img.abs().max().item():.3g}); text embeds {dt:.3g} "
          f"(max |value| {oc_txt.abs().max().item():.3g}); transformers loss {out.loss.item():.8f}")
    ok = di <= EMBED_TOLERANCE and dt <= EMBED_TOLERANCE
    if texts is not None:
        tok = CLIPTokenizer.from_pretrained(os.path.join(root, f"{name}-hf"))
        for t, row in zip(texts, tokens):
            ids = tok(t)["input_ids"]
            ref = row[: len(ids)].tolist()
            same = ids == ref
            print(f"  tokenizer from the export: {t!r} -> {ids} {'==' if same else '!='} open_clip {ref}")
            ok = ok and same
    if write_golden and name == "tiny-gelu":
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        save_file({"images": images.float().contiguous(), "tokens": tokens.to(torch.int32).contiguous(),
                   "loss": out.loss.reshape(1).float(), "image_embeds": hf_img.float().contiguous(),
                   "text_embeds": hf_txt.float().contiguous()}, GOLDEN)
        print(f"  wrote {os.path.relpath(GOLDEN)} ({os.path.getsize(GOLDEN)} bytes)")
    return ok


def pocketclip_check(binary, root):
    """convert + embed with the CLI on the full-vocabulary HF export, against transformers."""
    path = os.path.join(root, "full-vocab-hf")
    hf = load_hf(path)
    size = hf.config.vision_config.image_size
    work = tempfile.mkdtemp(prefix="hfexport-cli-")
    image = os.path.join(work, "circle.png")
    img = Image.new("RGB", (48, 40), "white")
    ImageDraw.Draw(img).ellipse((10, 6, 38, 34), fill=(220, 30, 30))
    img.save(image)
    text = "a photo of a red circle."
    pclip = os.path.join(work, "model-f32.pclip")
    for cmd in ([binary, "convert", path, "-o", pclip, "--dtype", "f32"],):
        print("$ " + " ".join(cmd))
        print(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip())
    cmd = [binary, "embed", pclip, "--image", image, "--text", text]
    print("$ " + " ".join(cmd))
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    ours_img = torch.tensor(out["images"][0]["embedding"])
    ours_txt = torch.tensor(out["texts"][0]["embedding"])
    cfg = json.load(open(os.path.join(path, "preprocessor_config.json")))
    pre = open_clip.image_transform(size, is_train=False, mean=cfg["image_mean"], std=cfg["image_std"])
    tokens = open_clip.get_tokenizer("ViT-B-32", context_length=hf.config.text_config.max_position_embeddings)([text])
    with torch.no_grad():
        ref_img = hf.get_image_features(pixel_values=pre(Image.open(image)).unsqueeze(0)).pooler_output[0]
        ref_txt = hf.get_text_features(input_ids=tokens).pooler_output[0]
    shutil.rmtree(work)
    di = (ours_img - ref_img).abs().max().item()
    dt = (ours_txt - ref_txt).abs().max().item()
    print(f"pocketclip embed (f32 .pclip) vs transformers: image max abs diff {di:.3g}, text {dt:.3g} "
          f"(max |value| {ref_img.abs().max().item():.3g} / {ref_txt.abs().max().item():.3g})")
    return di <= POCKETCLIP_TOLERANCE and dt <= POCKETCLIP_TOLERANCE


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", nargs="?", default="/tmp/hfexport-parity")
    ap.add_argument("--write-golden", action="store_true")
    ap.add_argument("--pocketclip", help="a pocketclip binary: also check convert + embed on the HF export")
    args = ap.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    ok = all([compare(n, args.root, gen, args.write_golden) for n in ["tiny-gelu", "full-vocab"]])
    if args.pocketclip:
        ok = pocketclip_check(args.pocketclip, args.root) and ok
    print("PASS" if ok else f"FAIL (tolerance {EMBED_TOLERANCE})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
