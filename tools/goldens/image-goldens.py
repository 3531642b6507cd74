#!/usr/bin/env python3
"""Golden images and expected preprocessing outputs for CLIPImage tests.

Run from the repository root (needs open_clip_torch 3.3.0, transformers 5.x, Pillow 13, numpy,
ImageMagick's `convert` on PATH):

    VENV/bin/python tools/goldens/image-goldens.py

Deterministic: every input is synthetic (gradients + seeded noise + hard edges) and is written
either by Pillow or by the small PNG writer below (which covers bit depths and colour types Pillow
cannot save: gray 2/4/16-bit, 16-bit RGB(A)/LA, and cycles through all five PNG row filters).
Expected outputs are what the references compute FROM THE FILES ON DISK (Pillow decodes them),
so a decoder difference would show up in the tests too.

Outputs in Tests/Fixtures/images/:
  in/*.png|jpg          the inputs
  out/<case>.rgb        expected uint8 RGB crop, HWC, size x size x 3
  out/<case>.f32        expected normalized CHW float32 (little-endian) for a few cases
  resize/<case>.raw     Pillow Image.resize(BICUBIC) outputs, interleaved bands
  manifest.json         the list of cases (read by Tests/CLIPImageTests)
"""
import json
import os
import struct
import subprocess
import zlib

import numpy as np
import open_clip
import torch
from PIL import Image
from torchvision.transforms import Compose
from transformers.models.clip.image_processing_clip import CLIPImageProcessor
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "images")
IN, OUT, RES = (os.path.join(ROOT, d) for d in ("in", "out", "resize"))
for d in (IN, OUT, RES):
    os.makedirs(d, exist_ok=True)

rng = np.random.default_rng(20261129)


def pattern(w, h, channels, depth=8):
    """Gradients + noise + a hard-edged rectangle and a diagonal line: exercises ringing/clipping."""
    maxv = (1 << depth) - 1
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for c in range(channels):
        g = (x / max(w - 1, 1) * (0.3 + 0.2 * c) + y / max(h - 1, 1) * (0.7 - 0.2 * c)) % 1.0
        g = g + rng.normal(0, 0.025, (h, w))
        g[h // 4 : h // 2, w // 3 : (2 * w) // 3] = (c % 2)  # hard edges, black/white
        g[np.abs(x * h - y * w) < max(w, h)] = 1.0 - (c % 2)
        chans.append(np.clip(np.round(g * maxv), 0, maxv))
    a = np.stack(chans, -1)
    dtype = np.uint16 if depth == 16 else np.uint8
    return a.astype(dtype)


# ---------------------------------------------------------------- minimal PNG writer
def _chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _filter_rows(raw_rows, bpp):
    """Apply filter type (row index mod 5) so the decoder sees None/Sub/Up/Average/Paeth."""
    out = bytearray()
    prev = bytes(len(raw_rows[0]))
    for i, row in enumerate(raw_rows):
        ft = i % 5
        f = bytearray(len(row))
        for j in range(len(row)):
            a = row[j - bpp] if j >= bpp else 0
            b = prev[j]
            c = prev[j - bpp] if j >= bpp else 0
            if ft == 0:
                p = 0
            elif ft == 1:
                p = a
            elif ft == 2:
                p = b
            elif ft == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            f[j] = (row[j] - p) & 0xFF
        out.append(ft)
        out += f
        prev = row
    return bytes(out)


def write_png(path, samples, color_type, depth, palette=None, trns=None):
    """samples: HxWxC integer array of raw sample values (indices for palette)."""
    h, w = samples.shape[:2]
    ch = samples.shape[2] if samples.ndim == 3 else 1
    s = samples.reshape(h, w * ch)
    rows = []
    for r in s:
        if depth == 16:
            rows.append(r.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(r.astype(np.uint8).tobytes())
        else:
            per = 8 // depth
            padded = np.zeros(((len(r) + per - 1) // per) * per, np.uint8)
            padded[: len(r)] = r
            packed = np.zeros(len(padded) // per, np.uint8)
            for k in range(per):
                packed |= (padded[k::per] << (8 - depth * (k + 1))).astype(np.uint8)
            rows.append(packed.tobytes())
    bpp = max(1, ch * depth // 8)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if palette is not None:
        data += _chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    # Split IDAT in two chunks: decoders must concatenate them.
    z = zlib.compress(_filter_rows(rows, bpp), 9)
    data += _chunk(b"IDAT", z[: len(z) // 2]) + _chunk(b"IDAT", z[len(z) // 2 :]) + _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- inputs
inputs = {}  # name -> path


def add(name, path):
    inputs[name] = path
    return name


def pil_save(name, im, **kw):
    path = os.path.join(IN, name)
    im.save(path, **kw)
    return add(name, path)


def png(name, *a, **kw):
    path = os.path.join(IN, name)
    write_png(path, *a, **kw)
    return add(name, path)


def gray_from(rgb):
    return rgb[..., :1]


pil_save("rgb_300x200.png", Image.fromarray(pattern(300, 200, 3), "RGB"))
pil_save("rgb_480x321.png", Image.fromarray(pattern(480, 321, 3), "RGB"))
pil_save("rgb_224x227.png", Image.fromarray(pattern(224, 227, 3), "RGB"))  # width unchanged at 224
pil_save("rgb_1000x7.png", Image.fromarray(pattern(1000, 7, 3), "RGB"))
pil_save("rgb_7x1000.png", Image.fromarray(pattern(7, 1000, 3), "RGB"))
pil_save("rgb_10x13.png", Image.fromarray(pattern(10, 13, 3), "RGB"))
pil_save("rgb_128x206.png", Image.fromarray(pattern(128, 206, 3), "RGB"))
# Height shrinks more than twice as much as width: Pillow 13 runs the vertical pass first.
pil_save("rgb_150x700.png", Image.fromarray(pattern(150, 700, 3), "RGB"))
pil_save("rgba_120x600.png", Image.fromarray(pattern(120, 600, 4), "RGBA"))
pil_save("rgb_stored_40x30.png", Image.fromarray(pattern(40, 30, 3), "RGB"), compress_level=0)  # stored blocks
pil_save("rgb_1x1.png", Image.fromarray(pattern(1, 1, 3), "RGB"))
pil_save("rgba_1x300.png", Image.fromarray(pattern(1, 300, 4), "RGBA"))
pil_save("rgb_tiny_3x2.png", Image.fromarray(pattern(3, 2, 3), "RGB"))  # fixed-Huffman block
pil_save("rgba_224x224.png", Image.fromarray(pattern(224, 224, 4), "RGBA"))  # same size: copy path
pil_save("rgba_180x150.png", Image.fromarray(pattern(180, 150, 4), "RGBA"))
pil_save("la_150x97.png", Image.fromarray(pattern(150, 97, 2), "LA"))
pil_save("l_97x150.png", Image.fromarray(pattern(97, 150, 1)[..., 0], "L"))
pil_save("bilevel_120x90.png", Image.fromarray(pattern(120, 90, 1)[..., 0] > 127))  # mode "1"
pal = (rng.integers(0, 256, (256, 3))).astype(np.uint8)
idx = (pattern(160, 110, 1)[..., 0]).astype(np.uint8)
p_im = Image.fromarray(idx, "P")
p_im.putpalette(pal.reshape(-1).tolist())
pil_save("p8_160x110.png", p_im)
png("p4_trns_133x71.png", (idx[:71, :133] >> 4)[..., None], 3, 4, palette=pal[:16],
    trns=bytes(rng.integers(0, 256, 10).astype(np.uint8)))
png("p1_77x50.png", (idx[:50, :77] > 127)[..., None].astype(np.uint8), 3, 1, palette=pal[:2])
png("p2_65x66.png", (idx[:66, :65] >> 6)[..., None], 3, 2, palette=pal[:4])
png("g2_70x90.png", (pattern(70, 90, 1) >> 6), 0, 2)
png("g4_91x70.png", (pattern(91, 70, 1) >> 4), 0, 4)
png("g8_filters_120x80.png", pattern(120, 80, 1), 0, 8)
png("g16_110x90.png", pattern(110, 90, 1, 16), 0, 16)
png("rgb16_100x75.png", pattern(100, 75, 3, 16), 2, 16)
png("rgba16_90x120.png", pattern(90, 120, 4, 16), 6, 16)
png("la16_80x66.png", pattern(80, 66, 2, 16), 4, 16)
trns_rgb = pattern(96, 64, 3)
png("rgb_trns_96x64.png", trns_rgb, 2, 8, trns=struct.pack(">HHH", *trns_rgb[20, 40]))  # a colour inside the box
png("l_trns_64x96.png", pattern(64, 96, 1), 0, 8, trns=struct.pack(">H", 255))
subprocess.run(["convert", os.path.join(IN, "rgb_300x200.png"), "-crop", "150x113+10+20", "+repage",
                "-interlace", "PNG", "-strip", "-define", "png:exclude-chunks=date,time",
                os.path.join(IN, "rgb_interlaced_150x113.png")], check=True)
add("rgb_interlaced_150x113.png", os.path.join(IN, "rgb_interlaced_150x113.png"))

jsrc = Image.fromarray(pattern(320, 240, 3), "RGB")
pil_save("jpeg_420_320x240.jpg", jsrc, quality=90)
pil_save("jpeg_444_240x320.jpg", jsrc.transpose(Image.Transpose.ROTATE_90), quality=90, subsampling=0)
pil_save("jpeg_422_251x163.jpg", jsrc.crop((3, 5, 254, 168)), quality=85, subsampling=1)
pil_save("jpeg_progressive_300x225.jpg", jsrc.crop((0, 0, 300, 225)), quality=90, progressive=True)
pil_save("jpeg_gray_200x150.jpg", jsrc.convert("L").crop((0, 0, 200, 150)), quality=90)
pil_save("jpeg_cmyk_160x120.jpg", Image.fromarray(pattern(160, 120, 4), "CMYK"), quality=92)
subprocess.run(["convert", os.path.join(IN, "rgb_300x200.png"), "-colorspace", "CMYK", "-quality", "90",
                os.path.join(IN, "jpeg_cmyk_magick_300x200.jpg")], check=True)
add("jpeg_cmyk_magick_300x200.jpg", os.path.join(IN, "jpeg_cmyk_magick_300x200.jpg"))
# Chroma layouts Pillow cannot write: 4:4:0 (vertical-only subsampling) and 4:1:1.
for factor, label in (("1x2", "440"), ("4x1", "411")):
    out = os.path.join(IN, f"jpeg_{label}_magick_203x157.jpg")
    subprocess.run(["convert", os.path.join(IN, "rgb_300x200.png"), "-crop", "203x157+50+21", "+repage",
                    "-sampling-factor", factor, "-quality", "88", "-strip", out], check=True)
    add(os.path.basename(out), out)


# ---------------------------------------------------------------- references
def pil_open(path):
    im = Image.open(path)
    im.load()
    if im.mode == "I;16" or im.mode == "I;16B":
        # Documented deviation: PocketCLIP reduces 16-bit gray to 8 bits by the high byte (as Pillow
        # itself does for 16-bit RGB/RGBA/LA PNGs); Pillow's convert("RGB") would clip to 255.
        a = np.asarray(im).astype(np.uint16) >> 8
        im = Image.fromarray(a.astype(np.uint8), "L")
    return im


def decoded_crcs(path):
    """CRC-32 of the samples Pillow decodes (its in-memory layout: "1" as 0/255, I;16 as LE u16)."""
    im = Image.open(path)
    im.load()
    a = np.asarray(im)
    if im.mode == "1":
        a = a.astype(np.uint8) * 255
    elif im.mode.startswith("I;16"):
        a = a.astype("<u2")
    pal = im.getpalette() if im.mode == "P" else None
    return zlib.crc32(a.tobytes()) & 0xFFFFFFFF, (zlib.crc32(bytes(pal)) & 0xFFFFFFFF) if pal else None


def openclip_uint8(im, size):
    t = open_clip.image_transform(size, is_train=False)
    return np.asarray(Compose(t.transforms[:3])(im))


def openclip_float(im, size):
    return open_clip.image_transform(size, is_train=False)(im).numpy().astype("<f4")


def hf_uint8(im, size, fast=False):
    cls = CLIPImageProcessor if fast else CLIPImageProcessorPil
    proc = cls(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
               do_rescale=False, do_normalize=False)
    pv = proc(images=im, return_tensors="np")["pixel_values"][0]  # CHW float of uint8 values
    return np.round(pv).astype(np.uint8).transpose(1, 2, 0)


def crop_offsets(w, h, size):
    short, long = (w, h) if w <= h else (h, w)
    nl = int(size * long / short)
    nw, nh = (size, nl) if w <= h else (nl, size)
    return nw, nh


cases = []
for name, path in sorted(inputs.items()):
    is_jpeg = name.endswith(".jpg")
    im = pil_open(path)
    for size in ([224, 64] if name in ("rgb_480x321.png", "rgb_224x227.png", "rgba_224x224.png",
                                        "rgb_1000x7.png", "jpeg_420_320x240.jpg") else [64]):
        for order in ("openclip", "hf"):
            if order == "hf" and size != 224 and name not in ("rgba_180x150.png", "p4_trns_133x71.png",
                                                               "la_150x97.png", "rgb_trns_96x64.png",
                                                               "l_trns_64x96.png", "rgb_128x206.png",
                                                               "jpeg_cmyk_160x120.jpg"):
                continue
            exp = openclip_uint8(im, size) if order == "openclip" else hf_uint8(im, size)
            assert exp.shape == (size, size, 3), (name, exp.shape)
            case = f"{os.path.splitext(name)[0]}_{size}_{order}"
            exp.tofile(os.path.join(OUT, case + ".rgb"))
            nw, nh = crop_offsets(*im.size, size)
            entry = {"name": case, "input": "in/" + name, "size": size, "order": order,
                     "expected": "out/" + case + ".rgb", "jpeg": is_jpeg, "mode": Image.open(path).mode,
                     "resized": [nw, nh], "cropRoundingDiffers": (nh - size) % 4 == 3 or (nw - size) % 4 == 3}
            if order == "openclip" and size == 64 and name in ("rgb_300x200.png", "la_150x97.png", "jpeg_420_320x240.jpg"):
                openclip_float(im, size).tofile(os.path.join(OUT, case + ".f32"))
                entry["expectedFloat"] = "out/" + case + ".f32"
            if order == "hf":
                fast = hf_uint8(im, size, fast=True)
                entry["hfTorchvisionMaxDiff"] = int(np.abs(fast.astype(int) - exp.astype(int)).max())
            cases.append(entry)
    cases[-1]["decodedCRC"], cases[-1]["paletteCRC"] = decoded_crcs(path)

# Crop-rounding cases: sizes where the resized long side minus size is 3 mod 4, both roundings.
for name, size in (("rgb_224x227.png", 224), ("rgb_128x206.png", 64), ("l_97x150.png", 64)):
    nw, nh = crop_offsets(*Image.open(inputs[name]).size, size)
    print(name, size, "resized", nw, nh, "mod4", (max(nw, nh) - size) % 4)

# ---------------------------------------------------------------- resize on its own
resize_cases = []
src_rgb = Image.fromarray(pattern(97, 61, 3), "RGB")
src_l = Image.fromarray(pattern(61, 97, 1)[..., 0], "L")
src_rgb.save(os.path.join(RES, "src_rgb_97x61.png"))
src_l.save(os.path.join(RES, "src_l_61x97.png"))
for src, sname in ((src_rgb, "src_rgb_97x61.png"), (src_l, "src_l_61x97.png")):
    w, h = src.size
    for label, (nw, nh) in {
        "up": (w * 3 + 1, h * 2 + 3), "down": (w // 3, h // 4), "half": (w // 2, h // 2),
        "double": (w * 2, h * 2), "xonly": (w + 40, h), "yonly": (w, h // 3),
        "nonint": (int(w / 1.37), int(h * 1.61)), "tiny": (1, 1), "mixed": (w * 2, h // 2),
        "vfirst": (w - 1, h // 2), "hfirst": (w // 2, h // 3),
    }.items():
        out = np.asarray(src.resize((nw, nh), Image.Resampling.BICUBIC))
        rname = f"{os.path.splitext(sname)[0]}_{label}_{nw}x{nh}.raw"
        out.tofile(os.path.join(RES, rname))
        resize_cases.append({"source": "resize/" + sname, "width": nw, "height": nh,
                             "expected": "resize/" + rname, "channels": 3 if src.mode == "RGB" else 1})

# ---------------------------------------------------------------- mode conversions, exhaustive
CONV = os.path.join(ROOT, "convert")
os.makedirs(CONV, exist_ok=True)
v, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")  # row = value, column = alpha
va = np.stack([v, v, v, a], -1).astype(np.uint8)
np.asarray(Image.fromarray(va, "RGBA").convert("RGBa"))[..., 0].tofile(os.path.join(CONV, "premultiply.raw"))
np.asarray(Image.frombytes("RGBa", (256, 256), va.tobytes()).convert("RGBA"))[..., 0].tofile(
    os.path.join(CONV, "unpremultiply.raw"))
white = Image.new("RGBA", (256, 256), (255, 255, 255, 255))
np.asarray(Image.alpha_composite(white, Image.fromarray(va, "RGBA")).convert("RGB"))[..., 0].tofile(
    os.path.join(CONV, "composite_white.raw"))
cmyk = rng.integers(0, 256, (64, 64, 4)).astype(np.uint8)
cmyk[0, :4] = [[0, 0, 0, 0], [255, 255, 255, 255], [255, 0, 0, 0], [0, 0, 0, 255]]
cmyk.tofile(os.path.join(CONV, "cmyk.raw"))
np.asarray(Image.fromarray(cmyk, "CMYK").convert("RGB")).tofile(os.path.join(CONV, "cmyk_rgb.raw"))

with open(os.path.join(ROOT, "manifest.json"), "w") as f:
    json.dump({"cases": cases, "resize": resize_cases}, f, indent=1)
total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(ROOT) for fn in fns)
print(len(cases), "cases,", len(resize_cases), "resize cases,", total // 1024, "KiB")
