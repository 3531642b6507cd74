#!/usr/bin/env python3
"""Writes N distinct 32x32 PNGs for tools/bench/rss-flat.sh (the load check), or reuses them.

    python tools/bench/rss-flat-images.py OUT_DIR [N=10000] [FASHION_MNIST_DIR]

The Fashion-MNIST test split (N <= 10,000) rendered as tools/model/fmnist-examples.py renders the
examples: the 28x28 garment centred on a black 32x32 canvas, gray copied to R, G and B. Without
the dataset (default /usr/share/datasets/fashion-mnist, or $FMNIST), random-noise RGB PNGs from
a fixed seed. Files are OUT_DIR/00000.png ...; an existing OUT_DIR with exactly N of them is kept.
Needs numpy and Pillow.
"""
import gzip, os, sys
from pathlib import Path
import numpy as np
from PIL import Image

out = Path(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
src = Path(sys.argv[3] if len(sys.argv) > 3 else os.environ.get("FMNIST", "/usr/share/datasets/fashion-mnist"))

if out.is_dir() and len(list(out.glob("*.png"))) == n:
    print(f"{out}: {n} images (cached)")
    sys.exit(0)
out.mkdir(parents=True, exist_ok=True)
for old in out.glob("*.png"):
    old.unlink()

gz = src / "t10k-images-idx3-ubyte.gz"
if gz.exists() and n <= 10_000:
    garments = np.frombuffer(gzip.open(gz).read(), dtype=np.uint8)[16:].reshape(-1, 28, 28)[:n]
    rgb = np.zeros((n, 32, 32, 3), dtype=np.uint8)
    rgb[:, 2:30, 2:30, :] = garments[:, :, :, None]
    what = f"Fashion-MNIST test images from {gz}"
else:
    rgb = np.random.default_rng(7).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    what = "random-noise images (no Fashion-MNIST test split found)"
for i in range(n):
    Image.fromarray(rgb[i], "RGB").save(out / f"{i:05d}.png")
print(f"{out}: wrote {n} {what}")
