"""End-to-end goldens (image files and label text through each library's own preprocessing)
and the safetensors dtype test vectors. Called by tools/goldens/make-fixtures.py; see its header for
the command and docs/fixtures.md for the file layout.

Besides dumping what open_clip and transformers produce, this file re-derives both
preprocessing pipelines with plain Pillow + numpy (`pil_pipeline`) and asserts they agree,
so the recipe a Swift port must follow is written down and checked, not guessed.
"""

import json
import os
import shutil

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import open_clip
from transformers import CLIPImageProcessorPil, CLIPModel, CLIPProcessor

import reference as ref

LABELS = ["a photo of a cat", "a red square", "two dogs", "an empty street"]

# Our Pillow + numpy re-derivation vs the libraries: both resize with Pillow and normalize in
# float32; only the order of float32 operations differs (a few ulp of values up to ~4).
PIPELINE_TOL = 1e-5


# ----------------------------------------------------------------------------------------
# Small shared helpers

def dump_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def fresh_dir(path):
    """Empty output directory, so no file of an older run survives next to the new ones."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def maxdiff(a, b):
    return float((torch.as_tensor(a).double() - torch.as_tensor(b).double()).abs().max())


def same(a, b, tol, what):
    d = maxdiff(a, b)
    if d > tol:
        raise AssertionError(f"{what}: max abs diff {d:.3g} > {tol:.3g}")
    return d


# ----------------------------------------------------------------------------------------
# Images and the preprocessing recipes

def make_images(outdir):
    """Three small deterministic PNGs. Sizes are chosen so the resized long side minus 32 is
    3 mod 4: there torchvision's round-half-even crop offset and HF's floor offset differ."""
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:54, 0:40]
    rgb = np.stack([x * 6, y * 4, 128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)], -1)
    rgb = np.clip(rgb + rng.integers(-20, 21, rgb.shape), 0, 255).astype(np.uint8)
    y, x = np.mgrid[0:31, 0:31]
    gray = ((x // 4 + y // 4) % 2 * 180 + 30 + rng.integers(0, 40, x.shape)).astype(np.uint8)
    y, x = np.mgrid[0:20, 0:67]
    rgba = np.stack([255 - x * 3, y * 12, (x * y) % 256, np.clip(x * 4, 0, 255)], -1)
    rgba = rgba.astype(np.uint8)  # alpha 0..255 left to right: alpha handling is visible
    files = {"rgb_40x54.png": Image.fromarray(rgb, "RGB"),
             "gray_31x31.png": Image.fromarray(gray, "L"),
             "rgba_67x20.png": Image.fromarray(rgba, "RGBA")}
    for name, im in files.items():
        im.save(outdir / name, optimize=False)
    return list(files)


def composite_on_white(im):
    """transformers 5: images with alpha are composited onto opaque white, then made RGB."""
    if "A" in im.getbands() or im.info.get("transparency") is not None:
        im = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im).convert("RGB")
    return im.convert("RGB")


def pil_pipeline(im, size, mean, std, style):
    """The whole preprocessing in plain Pillow + numpy; returns [3, size, size] float32.

    style "open_clip": resize in the file's own mode (RGBA is resized premultiplied by
      Pillow), crop offset round((H - size) / 2) half-to-even, then convert("RGB") (alpha
      dropped).
    style "hf": composite alpha onto white and convert to RGB first, then resize, crop
      offset (H - size) // 2.
    """
    if style == "hf":
        im = composite_on_white(im)
    w, h = im.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    im = im.resize((nw, nh), Image.BICUBIC)
    if style == "hf":
        top, left = (nh - size) // 2, (nw - size) // 2
    else:
        top, left = int(round((nh - size) / 2)), int(round((nw - size) / 2))
    im = im.crop((left, top, left + size, top + size)).convert("RGB")
    x = np.asarray(im, dtype=np.float32) / np.float32(255)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def zero_shot(image_embeds, text_embeds, scale):
    return ref.logits(image_embeds, text_embeds, scale).softmax(-1)


# ----------------------------------------------------------------------------------------
# Per-library end-to-end goldens

def openclip_e2e(outdir, names, golden):
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{outdir}")
    model.eval()
    tokenizer = open_clip.get_tokenizer(f"local-dir:{outdir}")
    norm = [t for t in preprocess.transforms if type(t).__name__ == "Normalize"][0]
    assert list(norm.mean) == [0.5] * 3 and list(norm.std) == [0.5] * 3, norm
    # The checkpoint loaded back from disk is the model the goldens came from.
    same(model.encode_image(golden["pixel_values"]), golden["image_embeds"], 0, "reloaded open_clip")
    images = [Image.open(outdir / "images" / n) for n in names]
    pixels = [preprocess(im) for im in images]
    recipe = max(same(p, pil_pipeline(im, 32, [0.5] * 3, [0.5] * 3, "open_clip"), PIPELINE_TOL,
                      "open_clip preprocess vs pil_pipeline") for p, im in zip(pixels, images))
    ids = tokenizer(LABELS)
    ie, te = model.encode_image(torch.stack(pixels)), model.encode_text(ids)
    t = {f"e2e.pixels.{k}": p for k, p in enumerate(pixels)}
    t.update({"e2e.image_embeds": ie, "e2e.input_ids": ids.float(), "e2e.text_embeds": te,
              "e2e.probs": zero_shot(ie, te, model.logit_scale)})
    save_file({k: v.contiguous() for k, v in t.items()}, str(outdir / "e2e.safetensors"))
    dump_json(outdir / "e2e.json", dict(
        images=[f"images/{n}" for n in names], labels=LABELS,
        input_ids=ids.tolist(), probs=t["e2e.probs"].tolist(),
        preprocess="open_clip.create_model_and_transforms('local-dir:...') eval transform: "
                   "Resize(32, bicubic, Pillow) -> CenterCrop(32, offset round((H-32)/2), half "
                   "to even) -> convert('RGB') -> ToTensor -> Normalize(0.5, 0.5). The resize "
                   "happens before the RGB conversion: L resizes as L; RGBA is resized "
                   "premultiplied by Pillow and its alpha is then dropped.",
        preprocess_recipe_max_abs_diff=recipe,
        tokenizer="open_clip.get_tokenizer (SimpleTokenizer): ftfy + html unescape + lower, "
                  "pad 0, pooled at argmax (the EOT)"))
    print("   e2e probs (open_clip):", np.round(t["e2e.probs"].numpy(), 4).tolist())


def hf_e2e(outdir, image_dir, names, golden):
    model = CLIPModel.from_pretrained(outdir).eval()
    same(model.get_image_features(pixel_values=golden["pixel_values"]).pooler_output,
         golden["image_embeds"], 0, "reloaded HF")
    proc = CLIPProcessor.from_pretrained(outdir)
    pil = CLIPImageProcessorPil.from_pretrained(outdir)
    images = [Image.open(image_dir / n) for n in names]
    pix = [proc(images=im, return_tensors="pt")["pixel_values"][0] for im in images]
    pix_pil = [pil(images=im, return_tensors="pt")["pixel_values"][0].float() for im in images]
    mean, std = pil.image_mean, pil.image_std
    recipe = max(same(p, pil_pipeline(im, 32, mean, std, "hf"), PIPELINE_TOL,
                      "CLIPImageProcessorPil vs pil_pipeline") for p, im in zip(pix_pil, images))
    backend = [maxdiff(a, b) for a, b in zip(pix, pix_pil)]
    ids = proc(text=LABELS, padding="max_length", max_length=77, return_tensors="pt")["input_ids"]
    ie = model.get_image_features(pixel_values=torch.stack(pix)).pooler_output
    te = model.get_text_features(input_ids=ids).pooler_output
    t = {f"e2e.pixels.{k}": p for k, p in enumerate(pix)}
    t.update({f"e2e.pixels_pil.{k}": p for k, p in enumerate(pix_pil)})
    t.update({"e2e.image_embeds": ie, "e2e.input_ids": ids.float(), "e2e.text_embeds": te,
              "e2e.probs": zero_shot(ie, te, model.logit_scale)})
    ie_pil = model.get_image_features(pixel_values=torch.stack(pix_pil)).pooler_output
    t["e2e.image_embeds_pil"] = ie_pil
    t["e2e.probs_pil"] = zero_shot(ie_pil, te, model.logit_scale)
    save_file({k: v.contiguous().float() for k, v in t.items()}, str(outdir / "e2e.safetensors"))
    rel = os.path.relpath(image_dir, outdir)
    dump_json(outdir / "e2e.json", dict(
        images=[f"{rel}/{n}" for n in names], labels=LABELS,
        input_ids=ids.tolist(), probs=t["e2e.probs"].tolist(),
        probs_pil=t["e2e.probs_pil"].tolist(),
        image_processor=type(proc.image_processor).__name__,
        preprocess="CLIPProcessor.from_pretrained: images with alpha are composited onto "
                   "WHITE and converted to RGB first (transformers 5 convert_to_rgb; L is "
                   "replicated) -> resize shortest edge 32, bicubic, long side "
                   "int(32*long/short) -> center crop offset (H-32)//2 -> /255 -> OpenAI "
                   "mean/std. e2e.pixels.* come from the default processor, which in "
                   "transformers 5 resizes uint8 tensors with torchvision (antialiased "
                   "bicubic, close to but not bit-equal to Pillow); e2e.pixels_pil.* come "
                   "from CLIPImageProcessorPil (Pillow resize), which a Pillow-exact resize "
                   "must match, and e2e.image_embeds_pil / e2e.probs_pil from those pixels.",
        preprocess_recipe_max_abs_diff=recipe,
        torchvision_vs_pil_pixels_max_abs_diff_per_image=backend,
        tokenizer="CLIPTokenizer from vocab.json + merges.txt (transformers 5: NFC, "
                  "whitespace fold, lowercase; no ftfy / html unescape), padding='max_length' "
                  "to 77 with <|endoftext|> (49407); the model pools at the FIRST 49407"))
    print("   e2e probs (HF):", np.round(t["e2e.probs"].numpy(), 4).tolist())
    print(f"   HF torchvision vs Pillow pixels max diff per image {np.round(backend, 4).tolist()}")


# ----------------------------------------------------------------------------------------
# dtypes.safetensors: reader conversion test vectors

def make_dtypes(outdir):
    fresh_dir(outdir)
    f32 = torch.tensor([[0.0, -0.0, 1.5], [-3.25, 1e-45, 3.4028234663852886e38]])
    f16 = torch.tensor([0.0, -0.0, 1.5, 65504.0, -65504.0, 2.0 ** -24, 1023 * 2.0 ** -24,
                        2.0 ** -14], dtype=torch.float16)  # min subnormal, max subnormal, min normal
    bf16 = torch.tensor([[1.0, -2.5], [3.3895313892515355e38, 2.0 ** -133]], dtype=torch.bfloat16)
    t = {"f32": f32, "f16": f16, "bf16": bf16, "scalar": torch.tensor(3.25),
         "i64": torch.tensor([1, -2, 2 ** 40], dtype=torch.int64)}
    save_file(t, str(outdir / "dtypes.safetensors"))
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
    expected = {}
    for k, v in t.items():
        entry = dict(dtype=names[v.dtype], shape=list(v.shape))
        if v.dtype == torch.int64:
            entry["values"] = v.flatten().tolist()
            entry["note"] = "not a float dtype: a reader should reject it with a clear error"
        else:
            fl = v.float().flatten()
            entry["float32_values"] = [float(x) for x in fl]
            # Bit patterns keep -0 and subnormals unambiguous.
            entry["float32_bits"] = ["0x%08x" % (b & 0xFFFFFFFF) for b in fl.view(torch.int32).tolist()]
        expected[k] = entry
    assert expected["f16"]["float32_bits"][1] == "0x80000000"  # -0 survived
    assert expected["bf16"]["float32_bits"][3] == "0x00010000"  # bf16 subnormal survived
    dump_json(outdir / "dtypes.json", expected)
