#!/usr/bin/env python3
"""Writes a few Fashion-MNIST test images as the PNGs the README classifies (examples/images/).

    python3 tools/model/fmnist-examples.py [/usr/share/datasets/fashion-mnist] [examples/images]

Each is rendered exactly as the evaluation's "plain" images (CaptionGenerator.plainAttributes):
the 28x28 garment at its own size (the large scale, 7/8 of the 32-pixel canvas; the nearest-
neighbour map (2y+1)*28 // 56 is then the identity), centred on a black 32x32 canvas, untinted (gray copied to R, G and B). 32x32 is the default model's input
size, so preprocessing (resize shortest side to 32, centre crop) leaves the pixels as they are.
Only numpy and Pillow are needed. The first test image of each class is used.
"""
import gzip, sys
from pathlib import Path
import numpy as np
from PIL import Image

src = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
out = Path(sys.argv[2] if len(sys.argv) > 2 else "examples/images")
names = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]

def read(name):
    p = src / name
    data = gzip.open(p.with_name(p.name + ".gz")).read() if not p.exists() else p.read_bytes()
    return np.frombuffer(data, dtype=np.uint8)

images = read("t10k-images-idx3-ubyte")[16:].reshape(-1, 28, 28)
labels = read("t10k-labels-idx1-ubyte")[8:]
canvas, side = 32, 28
idx = [(2 * i + 1) * 28 // (2 * side) for i in range(side)]
out.mkdir(parents=True, exist_ok=True)
for c, name in enumerate(names):
    i = int(np.nonzero(labels == c)[0][0])
    g = images[i][np.ix_(idx, idx)]
    rgb = np.zeros((canvas, canvas, 3), dtype=np.uint8)
    o = (canvas - side) // 2
    rgb[o:o + side, o:o + side, :] = g[:, :, None]
    Image.fromarray(rgb, "RGB").save(out / f"{name}.png", optimize=True)
    print(f"{out / (name + '.png')}: test image {i}, class {c} ({name})")
