#!/usr/bin/env python3
"""Makes this example's images and captions files (rerunnable, deterministic):

    VENV/bin/python examples/train-your-own/make_shapes.py

30 PNGs of 64×64 (images/): 3 shapes × 5 colours × 2 sizes on white, one caption each, two
images with a second caption, and five deliberately bad rows that the loader must report and
skip: a missing image, an empty caption, an undecodable file (broken.png: bytes that are no
image), a row without a tab, and (JSONL) a line that is not JSON or lacks the caption key.
captions.tsv and captions.jsonl list the same pairs.
"""
import json
import os

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 64
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
           "yellow": (235, 205, 30), "purple": (140, 50, 170)}
SHAPES = ["circle", "square", "triangle"]
RADIUS = {"small": 12, "large": 26}


def draw(shape, colour, size):
    img = Image.new("RGB", (SIZE, SIZE), "white")
    d = ImageDraw.Draw(img)
    c, r = SIZE // 2, RADIUS[size]
    if shape == "circle":
        d.ellipse((c - r, c - r, c + r, c + r), fill=colour)
    elif shape == "square":
        d.rectangle((c - r, c - r, c + r, c + r), fill=colour)
    else:
        d.polygon([(c, c - r), (c - r, c + r), (c + r, c + r)], fill=colour)
    return img


def main():
    os.makedirs(os.path.join(HERE, "images"), exist_ok=True)
    rows = []
    for shape in SHAPES:
        for colour, rgb in COLOURS.items():
            for size in RADIUS:
                name = f"images/{size}-{colour}-{shape}.png"
                draw(shape, rgb, size).save(os.path.join(HERE, name), optimize=True)
                rows.append((name, f"a {size} {colour} {shape}"))
    rows.append(("images/small-red-circle.png", "a red dot on a white background"))
    rows.append(("images/large-blue-square.png", "a big blue block"))
    # Not an image: text bytes with a .png name.
    with open(os.path.join(HERE, "broken.png"), "wb") as f:
        f.write(b"this is not a PNG file, just garbage bytes\x00\x01\x02\xff\xfe")
    bad_tsv = ["images/missing-green-hexagon.png\ta green hexagon",
               "images/small-red-square.png\t   ",
               "broken.png\ta broken picture",
               "images/large-green-circle.png a large green circle without a tab"]
    with open(os.path.join(HERE, "captions.tsv"), "w") as f:
        f.write("image\tcaption\n")
        f.writelines(f"{image}\t{caption}\n" for image, caption in rows)
        f.write("\n")
        f.writelines(line + "\n" for line in bad_tsv)
    bad_jsonl = [json.dumps({"image": "images/missing-green-hexagon.png", "caption": "a green hexagon"}),
                 json.dumps({"image": "images/small-red-square.png", "caption": "   "}),
                 json.dumps({"image": "broken.png", "caption": "a broken picture"}),
                 '{"image": "images/large-green-circle.png", "caption": "unterminated',
                 json.dumps({"file": "images/large-green-circle.png", "label": "no caption key"})]
    with open(os.path.join(HERE, "captions.jsonl"), "w") as f:
        f.writelines(json.dumps({"image": image, "caption": caption}) + "\n" for image, caption in rows)
        f.write("\n")
        f.writelines(line + "\n" for line in bad_jsonl)
    total = sum(os.path.getsize(os.path.join(HERE, "images", n)) for n in os.listdir(os.path.join(HERE, "images")))
    print(f"{len(rows)} pairs from {len(rows) - 2} images ({total} bytes); "
          f"{len(bad_tsv)} bad TSV rows, {len(bad_jsonl)} bad JSONL rows")


if __name__ == "__main__":
    main()
