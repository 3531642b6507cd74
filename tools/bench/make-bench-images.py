#!/usr/bin/env python3
"""Photo-like test images for tools/bench/image-memory.sh (not committed: they are large).

    PYTHON tools/bench/make-bench-images.py OUTDIR

Writes OUTDIR/small.png (224x224), photo.jpg and photo.png (colour 4000x3000: smooth colour
fields plus sensor-like noise, so the PNG does not compress to nothing: ~20 MB), and big.png
(9000x9000, smooth only: compresses to a few MB), and vga.jpg / vga.png (a 640x480 photo, the
size where the per-image time is mostly decoding and resizing). Needs Pillow; seeded, so reruns
make the same files.
"""
import random
import sys

from PIL import Image


def smooth(w, h, rng):
    # A few random colours on a coarse grid, enlarged: broad gradients like sky, walls, skin.
    base = Image.new("RGB", (8, 6))
    base.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(48)])
    return base.resize((w, h), Image.BICUBIC)


def photo(w, h, rng):
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    return Image.blend(smooth(w, h, rng), noise, 0.12)


def main(out):
    rng = random.Random(16)
    photo(224, 224, rng).save(f"{out}/small.png")
    p = photo(4000, 3000, rng)
    p.save(f"{out}/photo.jpg", quality=90)
    p.save(f"{out}/photo.png", compress_level=6)
    smooth(9000, 9000, rng).save(f"{out}/big.png", compress_level=6)
    v = photo(640, 480, rng)
    v.save(f"{out}/vga.jpg", quality=90)
    v.save(f"{out}/vga.png", compress_level=6)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    main(sys.argv[1])
