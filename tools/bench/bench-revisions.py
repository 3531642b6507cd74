#!/usr/bin/env python3
"""Speed of the working tree against an earlier revision, as ratios measured in one run.

    python3 tools/bench/bench-revisions.py BASE [--rounds 25] [--model M.pclip ...]

Uses the two release binaries `tools/ci/same-embeddings.sh BASE` builds (run it first: the base
in .build-base/build, the tree in .build), then times `pocketclip bench --json` of each, rounds
interleaved (base, tree, base, tree, ...) so a neighbour stealing the CPU hurts both alike: image
at 1 and 2 threads, image batch 8 at 2 threads, text at 1 thread, for every model given (default:
the bundled one). Prints per row the median over rounds of each binary's median, and tree/base.
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BINARIES = {"base": ROOT / ".build-base/build/release/pocketclip", "tree": ROOT / ".build/release/pocketclip"}
CASES = [("image, 1 thread", ["--image", "examples/images/bag.png", "--threads", "1"]),
         ("image, 2 threads", ["--image", "examples/images/bag.png", "--threads", "2"]),
         ("image batch 8, 2 threads", ["--image", "examples/images/bag.png", "--threads", "2", "--batch", "8"]),
         ("text, 1 thread", ["--text", "a photo of a large ankle boot on the left.", "--threads", "1"])]


def median_ms(binary, model, args):
    out = subprocess.run([str(binary), "bench", model, *args, "--runs", "10", "--json"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_ms"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", help="the revision same-embeddings.sh built (for the printout)")
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--model", action="append", help="a .pclip file (repeatable; default: the bundled model)")
    a = p.parse_args()
    for name, b in BINARIES.items():
        if not b.exists():
            sys.exit(f"bench-revisions: no {name} binary at {b}; run tools/ci/same-embeddings.sh {a.base} first")
    models = a.model or ["models/pocketclip-fmnist.pclip"]
    print(f"CPU: {cpu_model()}; base {a.base} vs the working tree; {a.rounds} interleaved rounds, 10 runs each")
    for model in models:
        for label, args in CASES:
            times = {name: [] for name in BINARIES}
            for _ in range(a.rounds):
                for name, b in BINARIES.items():
                    times[name].append(median_ms(b, model, args))
            base, tree = statistics.median(times["base"]), statistics.median(times["tree"])
            print(f"{Path(model).name}  {label:26s} base {base:8.3f} ms  tree {tree:8.3f} ms  tree/base {tree / base:.2f}")


if __name__ == "__main__":
    main()
