#!/usr/bin/env python3
"""Cosine of a q8 .pclip's embeddings to the float checkpoint it was converted from, over a fixed
set of inputs: 24 prompts (1 to 77 tokens, the peer benchmark's short, long and label prompts
among them) and every image under Tests/Fixtures/images/in (PNG and JPEG of many kinds).

    python3 tools/bench/q8-fidelity.py CHECKPOINT_DIR MODEL.pclip [MODEL2.pclip ...] [--pocketclip BIN] [--json]
    python3 tools/bench/q8-fidelity.py B32_DIR/hf /tmp/b32.pclip   # ViT-B/32 (tools/goldens/make-fixtures.py --vit-b32)

Both sides run in the same `pocketclip embed`: the checkpoint through the float runtime (equal to
PyTorch within 1e-5, FloatParityTests / ViTB32ParityTests), the .pclip through the int8 one, so
the figures are what quantization costs. Prints min / median per kind and the worst input;
exits 1 if any cosine is under the project's q8 bar, 0.9995. Needs only python3 (no numpy).
"""
import argparse, json, math, os, pathlib, subprocess, sys

BAR = 0.9995  # the q8 bar: image and text embedding cosine to the float reference, every input
ROOT = pathlib.Path(__file__).resolve().parents[2]
PROMPTS = [
    "a photo of a cat", "a photo of a cat.", "a photo of a dog.", "a photo of a car.",  # peer benchmark
    "", "cat", "red", "a diagram", "sneaker", "two people riding bicycles",
    "a photo of a small red sneaker.", "an empty street at night with rain",
    "the quick brown fox jumps over the lazy dog", "a black and white photo of a bridge.",
    "a close-up photo of a bird.", "a bad photo of the ankle boot.", "itap of a dog.",
    "a rendering of a car.", "graffiti of a cat.", "a photo of the large trouser in the top left corner.",
    "Hello, World! 123 naïve café: it's 2 o'clock & the dogs' bowls are EMPTY.",
    "a photo of a cat sitting on a red chair next to the window in the morning light",
    "a long caption that keeps going " * 4,
    ("a photo of a cat sitting on a red chair next to the window in the morning light while a small dog "
     "sleeps on the floor ") * 3,  # the peer benchmark's 77-token prompt (truncated)
]


def embed(binary, model, images, texts):
    cmd = [binary, "embed", model, "--threads", "1", "--truncate"]
    for i in images:
        cmd += ["--image", str(i)]
    for t in texts:
        cmd += ["--text", t]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    return [x["embedding"] for x in d["images"]], [x["embedding"] for x in d["texts"]]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("pclip", nargs="+", help="one or more .pclip files converted from CHECKPOINT_DIR")
    ap.add_argument("--pocketclip", default=str(ROOT / ".build/release/pocketclip"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    images = sorted(p for p in (ROOT / "Tests/Fixtures/images/in").iterdir() if p.suffix in (".png", ".jpg"))
    fi, ft = embed(a.pocketclip, a.checkpoint, images, PROMPTS)
    failed = False
    for pclip in a.pclip:
        qi, qt = embed(a.pocketclip, pclip, images, PROMPTS)
        rows = {"image": [(cosine(x, y), p.name) for x, y, p in zip(fi, qi, images)],
                "text": [(cosine(x, y), t[:40]) for x, y, t in zip(ft, qt, PROMPTS)]}
        report = {}
        for kind, cs in rows.items():
            cs.sort()
            report[kind] = {"inputs": len(cs), "min": cs[0][0], "median": cs[len(cs) // 2][0], "worst": cs[0][1],
                            "under_bar": sum(c < BAR for c, _ in cs)}
        failed |= any(r["under_bar"] for r in report.values())
        if a.json:
            print(json.dumps({"pclip": pclip, "bytes": os.path.getsize(pclip), "bar": BAR, **report}))
        else:
            print(f"== {pclip}  ({os.path.getsize(pclip) / 1e6:.1f} MB)")
            for kind, r in report.items():
                print(f"{kind:6s} {r['inputs']:3d} inputs  min {r['min']:.6f}  median {r['median']:.6f}  "
                      f"worst {r['worst']!r}  under {BAR}: {r['under_bar']}")
    sys.exit(1 if failed else 0)

if __name__ == "__main__":
    main()
