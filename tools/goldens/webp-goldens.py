#!/usr/bin/env python3
"""WebP sample files and what Pillow and the preprocessing references make of them.

Run from the repository root (needs Pillow 13 with WebP, open_clip_torch 3.3.0, transformers 5.x,
numpy):

    PYTHON=VENV/bin/python; $PYTHON tools/goldens/webp-goldens.py

Deterministic inputs (gradients + seeded noise + hard edges, as image-goldens.py draws them),
written by Pillow's WebP encoder in each kind a WebP file comes in: lossy (VP8), lossy with an
alpha plane (VP8X + ALPH), lossless (VP8L) with and without alpha, a lossy file carrying EXIF
(orientation 6) and ICC chunks, an odd-sized tiny lossy file, and an animation (VP8X + ANIM/ANMF:
Pillow's Image.open holds the first frame). Expected outputs are computed FROM THE FILES ON DISK,
so they hold whatever Pillow's own libwebp decodes.

Outputs in Tests/Fixtures/images/webp/ (read by Tests/CLIPImageTests/WebPTests.swift):
  *.webp                 the inputs
  <case>.rgb             expected uint8 RGB crop, HWC, size x size x 3 (open_clip and HF orders)
  <case>.f32             expected normalized CHW float32 (little-endian), open_clip, one case
  manifest.json          per input: Pillow's mode, size, n_frames, CRC-32 of its decoded samples;
                         per case: the expected files
and small seeds of each kind in Fuzz/corpus/FuzzImage/webp_*.webp.
"""
import io
import json
import os
import zlib

import numpy as np
import open_clip
from PIL import Image
from torchvision.transforms import Compose
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "images", "webp")
os.makedirs(ROOT, exist_ok=True)
rng = np.random.default_rng(20261207)
SIZE = 32  # small crops keep the goldens small; every input is larger, so all of them are resized


def pattern(w, h, channels):
    """Gradients + noise + a hard-edged box and a diagonal line (ringing, clipping, chroma edges)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for c in range(channels):
        g = (x / max(w - 1, 1) * (0.3 + 0.2 * c) + y / max(h - 1, 1) * (0.7 - 0.2 * c)) % 1.0
        g = g + rng.normal(0, 0.04, (h, w))
        g[h // 4: h // 2, w // 3: (2 * w) // 3] = c % 2
        g[np.abs(x * h - y * w) < max(w, h)] = 1.0 - (c % 2)
        chans.append(np.clip(np.round(g * 255), 0, 255))
    return np.stack(chans, -1).astype(np.uint8)


def with_alpha(w, h):
    a = pattern(w, h, 4)
    y, x = np.mgrid[0:h, 0:w]
    a[..., 3] = (x * 255 // max(w - 1, 1)).astype(np.uint8)  # a ramp from clear to opaque
    a[: h // 5, :, 3] = 0  # fully transparent rows (their colour must not leak through the resize)
    return Image.fromarray(a, "RGBA")


inputs = {}  # file name -> the mode Pillow must report (checked below)


def save(name, im, mode, **kw):
    im.save(os.path.join(ROOT, name), "WEBP", **kw)
    inputs[name] = mode


save("lossy_rgb_100x75.webp", Image.fromarray(pattern(100, 75, 3), "RGB"), "RGB", quality=85)
save("lossy_alpha_90x67.webp", with_alpha(90, 67), "RGBA", quality=80, alpha_quality=70)
save("lossless_rgb_75x100.webp", Image.fromarray(pattern(75, 100, 3), "RGB"), "RGB", lossless=True)
save("lossless_alpha_81x64.webp", with_alpha(81, 64), "RGBA", lossless=True)
save("lossy_tiny_3x5.webp", Image.fromarray(pattern(3, 5, 3), "RGB"), "RGB", quality=90)
exif = Image.Exif()
exif[0x0112] = 6  # orientation: rotate 90; Image.open does not apply it, and neither do we
icc = b"\x00" * 128 + b"acsp" + bytes(range(64))  # any bytes: Image.open stores them, converts nothing
save("lossy_exif_icc_64x48.webp", Image.fromarray(pattern(64, 48, 3), "RGB"), "RGB", quality=75,
     exif=exif.tobytes(), icc_profile=icc)
frames = [with_alpha(80, 60)] + [Image.fromarray(pattern(80, 60, 4), "RGBA").rotate(30 * k) for k in (1, 2)]
frames[0].save(os.path.join(ROOT, "animated_80x60.webp"), "WEBP", save_all=True, append_images=frames[1:],
               duration=100, loop=0, quality=70)
inputs["animated_80x60.webp"] = "RGBA"


# Fuzz seeds: each kind of file, a few hundred bytes, so mutations stay cheap.
SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Fuzz", "corpus", "FuzzImage")
small = with_alpha(12, 9)
small.convert("RGB").save(os.path.join(SEEDS, "webp_lossy_12x9.webp"), "WEBP", quality=60)
small.save(os.path.join(SEEDS, "webp_lossy_alpha_12x9.webp"), "WEBP", quality=60)
small.save(os.path.join(SEEDS, "webp_lossless_alpha_12x9.webp"), "WEBP", lossless=True)
small.save(os.path.join(SEEDS, "webp_animated_12x9.webp"), "WEBP", save_all=True, duration=50,
           append_images=[small.rotate(90), small.rotate(180)], quality=50)
small.convert("RGB").save(os.path.join(SEEDS, "webp_exif_12x9.webp"), "WEBP", quality=60, exif=exif.tobytes())


def openclip_uint8(im, size):
    t = open_clip.image_transform(size, is_train=False)
    return np.asarray(Compose(t.transforms[:3])(im))


def openclip_float(im, size):
    return open_clip.image_transform(size, is_train=False)(im).numpy().astype("<f4")


def hf_uint8(im, size):
    proc = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                 do_rescale=False, do_normalize=False)
    pv = proc(images=im, return_tensors="np")["pixel_values"][0]  # CHW float of uint8 values
    return np.round(pv).astype(np.uint8).transpose(1, 2, 0)


images, cases = [], []
for name, mode in sorted(inputs.items()):
    path = os.path.join(ROOT, name)
    with open(path, "rb") as f:
        data = f.read()
    im = Image.open(io.BytesIO(data))
    im.load()
    assert im.mode == mode, (name, im.mode)
    pixels = np.asarray(im)
    images.append({"input": name, "mode": im.mode, "width": im.size[0], "height": im.size[1],
                   "frames": getattr(im, "n_frames", 1), "bytes": len(data),
                   "decodedCRC": zlib.crc32(pixels.tobytes()) & 0xFFFFFFFF})
    stem = os.path.splitext(name)[0]
    for order, fn in (("openclip", openclip_uint8), ("hf", hf_uint8)):
        exp = fn(im, SIZE)
        assert exp.shape == (SIZE, SIZE, 3), (name, exp.shape)
        case = {"name": f"{stem}_{SIZE}_{order}", "input": name, "size": SIZE, "order": order,
                "expected": f"{stem}_{SIZE}_{order}.rgb"}
        exp.tofile(os.path.join(ROOT, case["expected"]))
        if order == "openclip" and name == "lossy_alpha_90x67.webp":
            case["expectedFloat"] = f"{stem}_{SIZE}_{order}.f32"
            openclip_float(im, SIZE).tofile(os.path.join(ROOT, case["expectedFloat"]))
        cases.append(case)

with open(os.path.join(ROOT, "manifest.json"), "w") as f:
    json.dump({"images": images, "cases": cases}, f, indent=1)
    f.write("\n")
total = sum(os.path.getsize(os.path.join(ROOT, fn)) for fn in os.listdir(ROOT))
webp = sum(i["bytes"] for i in images)
print(f"{len(images)} WebP files ({webp // 1024} KiB), {len(cases)} cases, {total // 1024} KiB in all")
