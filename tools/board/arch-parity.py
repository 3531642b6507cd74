#!/usr/bin/env python3
"""Same answers on x86-64 and aarch64: embeddings, top-1 and converted files.

    python3 tools/board/arch-parity.py --x86 .build/release/pocketclip \
        --aarch64 .build-board-aarch64/pocketclip [--roots DIR] [--vit-b32 CHECKPOINT_DIR]

Runs `pocketclip embed` on the same images and texts with: the x86 binary on the path this CPU
dispatches, the x86 binary capped to the portable kernels (POCKETCLIP_ISA=portable), and the
aarch64 binary under qemu as a Cortex-A72 (NEON) and as a Cortex-A76 (sdot). Models: the bundled
model, the two committed tiny fixtures (HF and OpenCLIP layouts, converted to .pclip here on each
architecture), and a ViT-B/32 checkpoint when one is given (tools/goldens/make-fixtures.py --vit-b32 makes a
random one). What must hold, and why:

- A72 == A76, byte for byte (the JSON text, so every float's bits): one binary, and its int8
  paths (NEON, sdot) give the same integers and the same fused float epilogue as the portable C
  (pc_internal.h; tools/ci/test-c-kernels.sh holds every path to the C reference bit for bit).
- aarch64 vs x86 portable, and x86 on its dispatched path vs x86 portable: the same top-1 and
  cosine >= 0.998, with the count of bit-identical embeddings printed. Not bit-identical by
  construction: the portable float kernels call libm's expf/erff (softmax, GELU), which glibc
  implements per architecture (x86-64 picks an FMA variant at run time), so the last bit of an
  activation can differ; the AVX float kernels sum in another order with polynomial exp/erf
  (FastFloatKernelsTests: ~1e-6 relative). Such a difference can move a value across a rounding
  boundary of the next per-row int8 quantizer, changing that activation by one quantization step,
  and the change propagates. Both results are then valid q8 results, each within the q8 fidelity
  bar (cosine >= 0.9995) of the float model, so the two lie within twice that angle:
  cosine >= cos(2 * acos(0.9995)) = 0.998. That is the bar, with the same top-1 (for the
  random-weight models, top-1 over the texts given). A real defect (a wrong layout, an
  unaligned read, a wrong endianness) gives cosines near 0.
- `convert --compress none` writes the same metadata and the same bytes for every uncompressed
  tensor on both architectures (the quantizer is scalar and deterministic; `inspect --json` lists
  each tensor's CRC-32). zstd's output differs between library versions (the tokenizer is always
  compressed, and the aarch64 build links another libzstd), so compressed tensors are compared by
  what they decode to: their decoded size here, and the embeddings, since aarch64 embeds with
  the x86-written file.

Prints one line per check and "N passed, M failed"; exits non-zero on any failure.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "bench"))
from machine import cpu_model  # noqa: E402
Q8_FIDELITY = 0.9995
CROSS_PATH_COSINE = math.cos(2 * math.acos(Q8_FIDELITY))  # 0.998
TEXTS = ["a photo of a bag", "a red dress", "sneaker", "an ankle boot on a white background",
         "a striped t-shirt folded on a table, photographed from above"]

passed = failed = 0


def check(ok, what):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)


def run(cmd, env=None):
    # Each run picks its own path unless told (a cap left in the environment would reach the
    # aarch64 guest through qemu too).
    base = {k: v for k, v in os.environ.items() if k != "POCKETCLIP_ISA"}
    r = subprocess.run(cmd, capture_output=True, text=True, env={**base, **(env or {})})
    if r.returncode != 0:
        raise SystemExit(f"arch-parity: {' '.join(map(str, cmd))} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return r.stdout


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def top1(out):
    texts = [t["embedding"] for t in out["texts"]]
    return [max(range(len(texts)), key=lambda j: cosine(i["embedding"], texts[j])) for i in out["images"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--x86", type=Path, default=REPO / ".build/release/pocketclip")
    ap.add_argument("--aarch64", type=Path, default=REPO / ".build-board-aarch64/pocketclip")
    ap.add_argument("--qemu", default="qemu-aarch64", help="qemu user-mode binary (the aarch64 build is static)")
    ap.add_argument("--vit-b32", type=Path, help="a ViT-B/32 checkpoint directory (HF layout) to convert and compare")
    ap.add_argument("--vit-b32-images", type=int, default=3, help="images through ViT-B/32 (emulation is slow)")
    args = ap.parse_args()
    for b in (args.x86, args.aarch64):
        if not b.exists():
            raise SystemExit(f"arch-parity: no binary at {b} (tools/board/board-build.sh [--arch aarch64])")
    print(f"CPU: {cpu_model()}")

    x86 = lambda *a, isa=None: run([args.x86, *a], env={"POCKETCLIP_ISA": isa} if isa else None)
    arm = lambda cpu, *a: run([args.qemu, "-cpu", cpu, args.aarch64, *a])

    work = Path(tempfile.mkdtemp(prefix="arch-parity-"))
    models = [("bundled", REPO / "models/pocketclip-fmnist.pclip", None,
               sorted((REPO / "examples/images").glob("*.png")))]
    fixture_images = sorted((REPO / "Tests/Fixtures/images/in").iterdir())
    tokenizer = ["--tokenizer", REPO / "Tests/Fixtures/tokenizer/bpe_simple_vocab_16e6.txt.gz"]
    for name, src, extra in [("tiny-hf", REPO / "Tests/Fixtures/tiny-hf", []),
                             ("tiny-openclip", REPO / "Tests/Fixtures/tiny-openclip", tokenizer)]:
        models.append((name, work / f"{name}.pclip", (src, extra), fixture_images))
    if args.vit_b32:
        models.append(("ViT-B/32", work / "vitb32.pclip", (args.vit_b32, []), fixture_images[: args.vit_b32_images]))

    for name, pclip, source, images in models:
        if source is not None:  # convert on both architectures: the same bytes
            src, extra = source
            x86("convert", src, *extra, "-o", pclip)
            raw, arm_raw = work / (pclip.stem + "-raw.pclip"), work / (pclip.stem + "-raw-aarch64.pclip")
            x86("convert", src, *extra, "--compress", "none", "-o", raw)
            arm("cortex-a72", "convert", src, *extra, "--compress", "none", "-o", arm_raw)
            mine, theirs = layout(x86("inspect", "--json", raw)), layout(x86("inspect", "--json", arm_raw))
            check(mine == theirs, f"{name}: convert --compress none on x86-64 and aarch64: the same metadata and "
                                  f"{sum(t['compression'] == 'raw' for t in mine[1])} uncompressed tensors byte for byte")
        embed = ["embed", pclip, "--threads", "2"] + [a for i in images for a in ("--image", i)] \
            + [a for t in TEXTS for a in ("--text", t)]
        native = x86(*embed)
        portable = x86(*embed, isa="portable")
        a72, a76 = arm("cortex-a72", *embed), arm("cortex-a76", *embed)
        check(a76 == a72, f"{name}: aarch64 Cortex-A76 (sdot) == Cortex-A72 (NEON), byte for byte "
                          f"({len(images)} images, {len(TEXTS)} texts)")
        for what, x, y in [("aarch64 vs x86 portable", a72, portable), ("x86 dispatched vs x86 portable", native, portable),
                           ("aarch64 vs x86 dispatched", a72, native)]:
            x, y = json.loads(x), json.loads(y)
            pairs = list(zip(x["images"] + x["texts"], y["images"] + y["texts"]))
            cos = [cosine(a["embedding"], b["embedding"]) for a, b in pairs]
            same = sum(a["embedding"] == b["embedding"] for a, b in pairs)
            check(min(cos) >= CROSS_PATH_COSINE and top1(x) == top1(y),
                  f"{name}: {what}: same top-1, worst cosine {min(cos):.7f} (bar {CROSS_PATH_COSINE:.4f}); "
                  f"{same} of {len(pairs)} embeddings bit-identical")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def layout(inspect_json):
    """What must not depend on the architecture that wrote a file: the metadata, and per tensor
    its name, type, shape and decoded size, plus the CRC-32 of an uncompressed one's bytes."""
    d = json.loads(inspect_json)
    keep = ("name", "dtype", "dims", "group_size", "compression", "decoded_bytes")
    return d["metadata"], [{**{k: t[k] for k in keep}, **({"crc32": t["crc32"]} if t["compression"] == "raw" else {})}
                           for t in d["tensors"]]


if __name__ == "__main__":
    sys.exit(main())
