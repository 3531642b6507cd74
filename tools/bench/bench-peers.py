#!/usr/bin/env python3
"""PocketCLIP against ONNX Runtime (dynamic int8 with QInt8 weights, and fp32), side by side, in
one run on the same random-weight ViT-B/32 checkpoint. docs/benchmarks.md explains every number.

    VENV/bin/python tools/bench/bench-peers.py                      # everything, table on stdout
    VENV/bin/python tools/bench/bench-peers.py --checkpoint B32_DIR/hf --json out.json
    VENV/bin/python tools/bench/bench-peers.py --runs 40 --blocks 8 --head classes.head

Rows: image batch 1 at 1 and 2 threads, batch 8 at 2 threads, text at 77 tokens and a short
prompt (7 tokens) at 1 thread: medians of wall time per call; then the peak RSS of a fresh
process, vision only and both towers. Columns: PocketCLIP, ONNX Runtime int8, ONNX Runtime fp32,
the ratio PocketCLIP / ONNX Runtime int8 and the bar it must meet. Then the cosines of each
system's embeddings with the PyTorch float reference on the same inputs.

The systems are interleaved: each row is timed in --blocks blocks, each block runs every system
for runs/blocks calls (after --warmup calls of its own), and the order of the systems rotates
from block to block, so drift on a shared machine lands on all of them alike.

A PocketCLIP measurement whose command is missing or fails is shown as "n/a" with the reason;
the ONNX Runtime columns are measured regardless. Needs onnx, onnxruntime (pip) in the venv.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent  # tools/bench
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))
from machine import cpu_model  # noqa: E402
from pocketclip import PocketCLIP, Unavailable, run_measured  # noqa: E402

PY = sys.executable
DEFAULT_WORK = Path("/tmp/pocketclip-peers")
DEFAULT_BINARY = ROOT / ".build/release/pocketclip"
MB = 1e6  # decimal megabytes, as in tools/bench/bench-pclip.sh

# The bars the int8 runtime is held to against this peer. Times: PocketCLIP median / ONNX Runtime
# int8 median in the same run. Text "short" is 0.25 because PocketCLIP computes only the 7 real
# tokens while the exported HF graph always runs all 77 positions: the peer's real behaviour.
TIME_BAR = 0.8
SHORT_TEXT_BAR = 0.25
VISION_RSS_BAR = 110 * MB       # absolute, PocketCLIP vision-only classify
BOTH_RSS_FACTOR = 1.15          # both towers: <= 1.15 x the .pclip's in-memory tensor bytes

SYSTEMS = ("pocketclip", "ort_int8", "ort_fp32")
LABELS = "cat,dog,car"          # the same three prompts the ONNX Runtime probe embeds


class Row:
    def __init__(self, key, title, tower, threads, bar, batch=1, prompt=None):
        self.key, self.title, self.tower, self.threads, self.bar = key, title, tower, threads, bar
        self.batch, self.prompt = batch, prompt


# Operations of the ViT-B/32 image encoder at batch 1 (2 per multiply-add, as bench-kernels.sh
# counts).
VIT_B32_IMAGE_GOP = 8.82

TIME_ROWS = [
    Row("image_b1_t1", "image b1 t1 (ms)", "vision", 1, TIME_BAR),
    Row("image_b1_t2", "image b1 t2 (ms)", "vision", 2, TIME_BAR),
    Row("image_b8_t2", "image b8 t2 (ms)", "vision", 2, TIME_BAR, batch=8),
    Row("text_long_t1", "text 77 tok t1 (ms)", "text", 1, TIME_BAR, prompt="long"),
    Row("text_short_t1", "text short t1 (ms)", "text", 1, SHORT_TEXT_BAR, prompt="short"),
]


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----------------------------------------------------------------------------------------
# Setup: checkpoint, ONNX export (child process, cached), .pclip

def prepare(args, log):
    ckpt = args.checkpoint
    if ckpt is None:
        ckpt = args.workdir / "vit-b32" / "hf"
        if not (ckpt / "model.safetensors").exists():
            log(f"making the random ViT-B/32 checkpoint in {ckpt.parent} (tools/goldens/make-fixtures.py)")
            subprocess.run([PY, str(ROOT / "tools" / "goldens" / "make-fixtures.py"), "--vit-b32", str(ckpt.parent)], check=True,
                           stdout=sys.stderr)  # stdout is the table (or the JSON with --json -)
    if not (ckpt / "model.safetensors").exists():
        sys.exit(f"error: {ckpt} has no model.safetensors; pass --checkpoint DIR/hf from "
                 f"`tools/goldens/make-fixtures.py --vit-b32 DIR`")
    log("ONNX export and int8 quantization (cached in the work dir)")
    subprocess.run([PY, str(HERE / "peers" / "ort-export.py"), str(ckpt), str(args.workdir)], check=True,
                   stdout=sys.stderr)
    manifest = json.loads((args.workdir / "manifest.json").read_text())

    pclip = PocketCLIP(args.pocketclip, args.pclip or args.workdir / "vit-b32-q8.pclip")
    notes = {}
    if args.pclip is None:
        # Reconverted when the checkpoint or the binary (its format may have moved on) is newer.
        newest = max(p.stat().st_mtime for p in (ckpt / "model.safetensors", pclip.binary) if p.exists())
        stale = not pclip.model.exists() or pclip.model.stat().st_mtime < newest
        try:
            if stale:
                log(f"pocketclip convert {ckpt} -o {pclip.model}")
                pclip.convert(ckpt, pclip.model)
        except Unavailable as e:
            notes["convert"] = str(e)
    return ckpt, manifest, pclip, notes


# ----------------------------------------------------------------------------------------
# ONNX Runtime

class ORT:
    """The sessions, made once per (tower, variant, threads) and kept for the whole run."""

    def __init__(self, work):
        self.work, self.sessions = work, {}

    def session(self, tower, variant, threads):
        key = (tower, variant, threads)
        if key not in self.sessions:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.sessions[key] = ort.InferenceSession(str(self.work / f"{tower}_{variant}.onnx"), opts,
                                                      providers=["CPUExecutionProvider"])
        return self.sessions[key]

    def block(self, row, variant, feed, runs, warmup):
        sess = self.session(row.tower, variant, row.threads)
        for _ in range(warmup):
            sess.run(None, feed)
        times, cpu = [], []
        for _ in range(runs):
            c0, t0 = time.process_time(), time.perf_counter()
            out = sess.run(None, feed)[0]
            times.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
        return times, cpu, out[0]


# ----------------------------------------------------------------------------------------
# Timing, interleaved

def time_rows(args, manifest, pclip, bench_reason, log):
    work = args.workdir
    ortrt = ORT(work)
    pixels = np.load(work / "pixels.npy")
    ids = {p: np.load(work / f"ids_{p}.npy") for p in ("short", "long")}
    prompts = {"short": manifest["short_prompt"], "long": manifest["long_prompt"]}
    per_block = math.ceil(args.runs / args.blocks)
    results, embeddings = {}, {s: {} for s in SYSTEMS}
    for row in TIME_ROWS:
        if args.rows and row.key not in args.rows:
            continue
        if row.tower == "vision":
            feed = {"pixel_values": np.ascontiguousarray(np.repeat(pixels, row.batch, axis=0))}
        else:
            feed = {"input_ids": ids[row.prompt]}
        times, cpu = {s: [] for s in SYSTEMS}, {s: [] for s in SYSTEMS}
        reason = bench_reason
        for b in range(args.blocks):
            order = SYSTEMS[b % 3:] + SYSTEMS[:b % 3]
            for system in order:
                if system == "pocketclip":
                    if reason:
                        continue
                    try:
                        kw = (dict(image=work / "image.png", batch=row.batch) if row.tower == "vision"
                              else dict(text=prompts[row.prompt]))
                        ms, cpu_ms, emb = pclip.bench(threads=row.threads, runs=per_block, warmup=args.warmup, **kw)
                    except Unavailable as e:
                        reason, times[system] = str(e), []
                        continue
                else:
                    ms, cpu_ms, emb = ortrt.block(row, system[4:], feed, per_block, args.warmup)
                times[system] += ms
                cpu[system] += cpu_ms or []
                embeddings[system].setdefault(row.key, emb)
        r = {"threads": row.threads, "batch": row.batch, "runs_per_system": per_block * args.blocks}
        for s in SYSTEMS:
            if times[s]:
                r[s] = {"median_ms": float(np.median(times[s])), "p90_ms": float(np.percentile(times[s], 90)),
                        "min_ms": float(np.min(times[s])), "runs_ms": [round(t, 3) for t in times[s]]}
                if len(cpu[s]) == len(times[s]):
                    # Process CPU time over wall time: at 1 thread, below 1.0 means other jobs held the core.
                    r[s]["cpu_over_wall"] = float(np.sum(cpu[s]) / np.sum(times[s]))
                    r[s]["median_cpu_ms"] = float(np.median(cpu[s]))
            else:
                r[s] = {"n/a": reason}
        results[row.key] = r
        log(f"{row.title:<22} " + "  ".join(
            f"{s} {r[s]['median_ms']:.1f}" if "median_ms" in r[s] else f"{s} n/a" for s in SYSTEMS))
    return results, embeddings


# ----------------------------------------------------------------------------------------
# Peak RSS, each in a fresh process

def ort_rss(args, mode, variant=None):
    cmd = [PY, str(HERE / "peers" / "ort-rss.py"), str(args.workdir), mode]
    if variant:
        cmd += [variant, str(args.rss_threads)]
    rc, out, err, rss, _ = run_measured(cmd)
    if rc != 0:
        raise RuntimeError(f"ort-rss.py {mode} {variant or ''} failed: {err.strip()[-400:]}")
    return {"peak_bytes": rss, "status_kB": json.loads(out)}


def measure_rss(args, pclip, classify_reason, log):
    log("peak RSS, fresh processes")
    work = args.workdir
    image = str(work / "image.png")
    r = {"ort_baseline": ort_rss(args, "baseline")}
    for variant in ("int8", "fp32"):
        for mode in ("vision", "both"):
            r[f"ort_{variant}_{mode}"] = ort_rss(args, mode, variant)

    def pc(key, argv, reason=None):
        try:
            if reason:
                raise Unavailable(reason)
            r[key] = {"peak_bytes": pclip.peak_rss(argv), "command": "pocketclip " + " ".join(argv)}
        except Unavailable as e:
            r[key] = {"n/a": str(e)}

    head, vision_reason = args.head, classify_reason
    if head is None and not vision_reason:
        head = work / "cat-dog-car.head"   # rebuilt each run: a head only fits the .pclip it came from
        try:
            pclip.build_head(LABELS, head)
        except Unavailable as e:
            vision_reason = str(e)
    if not vision_reason and not pclip.has_subcommand("classify", "--head"):
        vision_reason = "`pocketclip classify --head` not implemented in this binary"
    pc("pocketclip_vision", ["classify", str(pclip.model), image, "--head", str(head)], vision_reason)
    pc("pocketclip_both", ["classify", str(pclip.model), image, "--labels", LABELS], classify_reason)
    return r


# ----------------------------------------------------------------------------------------
# Cosines with the PyTorch float reference

def cosines(args, manifest, pclip, embeddings, bench_reason, classify_reason):
    work = args.workdir
    ref = {"image_b1_t1": np.load(work / "ref_image.npy")[0],
           "text_long_t1": np.load(work / "ref_text_long.npy")[0],
           "text_short_t1": np.load(work / "ref_text_short.npy")[0]}
    out = {}
    for s in SYSTEMS:
        out[s] = {k: cosine(embeddings[s][k], v) for k, v in ref.items() if k in embeddings[s]}
    if not out["pocketclip"] and not classify_reason:
        # `bench` is not there yet: the embeddings of `pocketclip embed`, same file, same prompts.
        try:
            img, (long, short) = pclip.embed(work / "image.png", [manifest["long_prompt"], manifest["short_prompt"]])
            out["pocketclip"] = {"image_b1_t1": cosine(img, ref["image_b1_t1"]),
                                 "text_long_t1": cosine(long, ref["text_long_t1"]),
                                 "text_short_t1": cosine(short, ref["text_short_t1"])}
            out["pocketclip_source"] = f"pocketclip embed (bench unavailable: {bench_reason})"
        except Unavailable as e:
            out["pocketclip_source"] = str(e)
    else:
        out["pocketclip_source"] = "pocketclip bench" if out["pocketclip"] else classify_reason
    return out


# ----------------------------------------------------------------------------------------
# Report

def verdict(value, bar):
    return "pass" if value <= bar else "FAIL"


def table(times, rss, weight_bytes, cos, args):
    lines, notes = [], []

    def cell(entry, key, scale=1.0, fmt="{:.1f}"):
        if key in entry:
            return fmt.format(entry[key] / scale)
        note = entry.get("n/a", "not measured")
        if note not in notes:
            notes.append(note)
        return f"n/a[{notes.index(note) + 1}]"

    head = f"{'':<24}{'PocketCLIP':>12}{'ORT int8':>11}{'ORT fp32':>11}{'PC/int8':>9}   {'bar':<18}{'':>5}"
    lines += [head, "-" * len(head)]
    for row in TIME_ROWS:
        if row.key not in times:
            continue
        t = times[row.key]
        pc, i8 = t["pocketclip"], t["ort_int8"]
        ratio = pc["median_ms"] / i8["median_ms"] if "median_ms" in pc else None
        lines.append(f"{row.title:<24}{cell(pc, 'median_ms'):>12}{cell(i8, 'median_ms'):>11}"
                     f"{cell(t['ort_fp32'], 'median_ms'):>11}{(f'{ratio:.2f}' if ratio else '-'):>9}   "
                     f"{'ratio <= ' + format(row.bar, '.2f'):<18}{verdict(ratio, row.bar) if ratio else '-':>5}")
    both_bar = BOTH_RSS_FACTOR * weight_bytes if weight_bytes else None
    for key, title, bar, bar_text in (
            ("vision", "peak RSS vision (MB)", VISION_RSS_BAR, f"<= {VISION_RSS_BAR / MB:.0f} MB"),
            ("both", "peak RSS both (MB)", both_bar,
             f"<= {both_bar / MB:.1f} MB" if both_bar else "n/a (no .pclip)")):
        pc, i8, f32 = rss[f"pocketclip_{key}"], rss[f"ort_int8_{key}"], rss[f"ort_fp32_{key}"]
        ratio = pc["peak_bytes"] / i8["peak_bytes"] if "peak_bytes" in pc else None
        ok = verdict(pc["peak_bytes"], bar) if ratio and bar else "-"
        lines.append(f"{title:<24}{cell(pc, 'peak_bytes', MB):>12}{cell(i8, 'peak_bytes', MB):>11}"
                     f"{cell(f32, 'peak_bytes', MB):>11}{(f'{ratio:.2f}' if ratio else '-'):>9}   {bar_text:<18}{ok:>5}")
    base = rss["ort_baseline"]["peak_bytes"]
    lines.append(f"{'  of which Python':<24}{'':>12}{base / MB:>11.1f}{base / MB:>11.1f}"
                 f"   (interpreter + numpy + onnxruntime imported, no session)")
    lines.append("")
    lines.append(f"{'cosine vs PyTorch fp32':<24}{'PocketCLIP':>12}{'ORT int8':>11}{'ORT fp32':>11}")
    for key, title in (("image_b1_t1", "image"), ("text_long_t1", "text 77 tok"), ("text_short_t1", "text short")):
        vals = [cos[s].get(key) for s in SYSTEMS]
        lines.append(f"{title:<24}" + "".join(f"{(f'{v:.5f}' if v is not None else 'n/a'):>{w}}"
                                              for v, w in zip(vals, (12, 11, 11))))
    lines.append(f"  PocketCLIP embeddings from: {cos['pocketclip_source']}")
    lines.append("")
    lines.append(f"Times: median wall ms per call over {next(iter(times.values()))['runs_per_system']} runs per system, "
                 f"interleaved in {args.blocks} blocks (system order rotates per block, {args.warmup} warm-up "
                 f"calls per block); p90 in --json.")
    lines.append(f"Peak RSS: ru_maxrss of a fresh process (GNU time), MB = 10^6 bytes; ORT at "
                 f"{args.rss_threads} thread(s); both towers = one image + the prompts '{LABELS}'.")
    one = [row for row in TIME_ROWS if row.threads == 1 and row.key in times]
    if one:
        have = [s for s in SYSTEMS if "cpu_over_wall" in times[one[0].key][s]]
        busy = [f"{row.title.split(' (')[0]} " + "/".join(
            f"{times[row.key][s]['median_cpu_ms']:.1f} ms ({times[row.key][s]['cpu_over_wall']:.2f})" for s in have)
            for row in one]
        lines.append(f"CPU time per call at 1 thread, median ({'/'.join(have)}; in brackets CPU/wall, 1.00 = the "
                     f"thread ran throughout, less = other jobs held the core): " + ", ".join(busy) + ".")
    gops = [f"{key.split('_')[-1].replace('t', '')} thread(s) {VIT_B32_IMAGE_GOP / (times[key][s]['median_ms'] / 1e3):.0f}"
            for key in ("image_b1_t1", "image_b1_t2") if key in times
            for s in ("pocketclip",) if "median_ms" in times[key][s]]
    if gops:
        lines.append(f"PocketCLIP image encoder, batch 1: GOP/s against its {VIT_B32_IMAGE_GOP} GOP (from the medians above): "
                     + ", ".join(gops) + ".")
    if weight_bytes:
        lines.append(f".pclip tensors in memory (q8 weight bytes): {weight_bytes / MB:.1f} MB.")
    for i, note in enumerate(notes):
        lines.append(f"[{i + 1}] n/a: {note}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, help="HF CLIPModel dir (DIR/hf of tools/goldens/make-fixtures.py "
                    "--vit-b32 DIR); default: made under WORKDIR/vit-b32 if missing")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORK, help=f"cache for ONNX files, inputs, "
                    f"the .pclip (default {DEFAULT_WORK})")
    ap.add_argument("--pocketclip", type=Path, default=DEFAULT_BINARY, help=f"binary (default {DEFAULT_BINARY})")
    ap.add_argument("--pclip", type=Path, help="use this .pclip instead of converting the checkpoint")
    ap.add_argument("--head", type=Path, help="class head for the vision-only classify row (default: "
                    "`pocketclip head build` of the labels cat,dog,car, into the work dir)")
    ap.add_argument("--runs", type=int, default=20, help="timed calls per system and row (default 20)")
    ap.add_argument("--blocks", type=int, default=4, help="interleaved blocks per row (default 4)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls at the start of every block (default 2)")
    ap.add_argument("--rss-threads", type=int, default=1, help="ONNX Runtime threads in the RSS probes (default 1)")
    ap.add_argument("--rows", type=lambda v: v.split(","), help="time only these rows, comma-separated: "
                    + ",".join(r.key for r in TIME_ROWS) + " (default: all)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write every number to FILE ('-': stdout only JSON)")
    args = ap.parse_args()
    if args.runs < 1 or args.blocks < 1 or args.warmup < 0:
        ap.error("--runs and --blocks must be >= 1, --warmup >= 0")
    unknown = set(args.rows or []) - {r.key for r in TIME_ROWS}
    if unknown:
        ap.error(f"unknown --rows {sorted(unknown)}; expected some of {[r.key for r in TIME_ROWS]}")
    args.workdir = args.workdir.resolve()
    quiet = args.json is not None and str(args.json) == "-"

    def log(msg):
        print(f"[bench-peers] {msg}", file=sys.stderr, flush=True)

    ckpt, manifest, pclip, notes = prepare(args, log)
    classify_reason = notes.get("convert")
    if not classify_reason:
        try:
            pclip.check_binary()
            if not pclip.model.exists():
                raise Unavailable(f"no .pclip at {pclip.model}")
        except Unavailable as e:
            classify_reason = str(e)
    bench_reason = classify_reason or (None if pclip.has_subcommand("bench")
                                       else "`pocketclip bench` not implemented in this binary")
    weight_bytes = None
    if not classify_reason:
        try:
            weight_bytes = pclip.weight_bytes()
        except Unavailable as e:
            notes["inspect"] = str(e)

    load = [os.getloadavg()[0]]
    times, embeddings = time_rows(args, manifest, pclip, bench_reason, log)
    load.append(os.getloadavg()[0])
    rss = measure_rss(args, pclip, classify_reason, log)
    cos = cosines(args, manifest, pclip, embeddings, bench_reason, classify_reason)

    report = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "checkpoint": str(ckpt), "pclip": str(pclip.model), "pocketclip": str(pclip.binary),
        "onnxruntime": ort.__version__, "settings": {k: str(v) for k, v in vars(args).items()},
        "onnx": manifest["onnx"], "onnx_vs_pytorch_cosine": manifest["onnx_vs_pytorch_cosine"],
        "prompts": {"short": manifest["short_prompt"], "long": manifest["long_prompt"]},
        "pclip_tensor_bytes": weight_bytes, "times": times, "peak_rss": rss, "cosine_vs_pytorch": cos,
        "bars": {"time_ratio": TIME_BAR, "short_text_ratio": SHORT_TEXT_BAR,
                 "vision_rss_bytes": VISION_RSS_BAR, "both_rss_factor_of_pclip_tensor_bytes": BOTH_RSS_FACTOR},
        "load_average_1min": {"before_timing": load[0], "after_timing": load[1]}, "cpus": os.cpu_count(),
        "cpu_model": cpu_model(), "pocketclip_kernels": pclip.kernels,
        "notes": notes,
    }
    if quiet:
        print(json.dumps(report, indent=1))
        return
    print(table(times, rss, weight_bytes, cos, args))
    print(f"CPU: {cpu_model()}; PocketCLIP's int8 kernels: {pclip.kernels} (figures depend on both).")
    print(f"Load average (1 min) before / after timing: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs "
          f"(other jobs on a shared machine slow every system alike; compare ratios).")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
