#!/usr/bin/env python3
"""One fresh-process memory probe of ONNX Runtime, run by tools/bench/bench-peers.py, which reads the
peak RSS of this process from the kernel (wait4) when it exits.

    VENV/bin/python tools/bench/peers/ort-rss.py WORKDIR baseline
    VENV/bin/python tools/bench/peers/ort-rss.py WORKDIR vision {int8|fp32} THREADS
    VENV/bin/python tools/bench/peers/ort-rss.py WORKDIR both {int8|fp32} THREADS

baseline: the interpreter with numpy and onnxruntime imported and the inputs loaded, no session:
the part of the peak that is Python, not the model. vision: one vision session and one image
(batch 1). both: the vision and text sessions, one image and the three label prompts (what
`pocketclip classify IMG --labels cat,dog,car` does). Imports nothing but numpy and onnxruntime,
so the figure is what an ONNX Runtime deployment in Python costs. Prints /proc/self/status's
VmHWM, RssAnon and RssFile (kB) as JSON on stdout for the record.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def status():
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            fields[key + "_kB"] = int(value.split()[0])
    return fields


def session(path, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main():
    work, mode = Path(sys.argv[1]), sys.argv[2]
    pixels = np.load(work / "pixels.npy")
    labels = np.load(work / "ids_labels.npy")
    if mode != "baseline":
        variant, threads = sys.argv[3], int(sys.argv[4])
        vision = session(work / f"vision_{variant}.onnx", threads)
        vision.run(None, {"pixel_values": pixels})
        if mode == "both":
            text = session(work / f"text_{variant}.onnx", threads)
            text.run(None, {"input_ids": labels})
    print(json.dumps(status()))


if __name__ == "__main__":
    main()
