#!/usr/bin/env bash
# Load check: `pocketclip classify` over 10,000 distinct images in ONE process
# with the bundled default model, while the resident set (VmRSS in /proc/PID/status) is sampled
# every 100 ms. Memory must stay flat: the command streams one result per image and keeps
# nothing per image, so after warm-up RSS may not grow.
#
#   bash tools/bench/rss-flat.sh                    # 10,000 images, CSV output checked, exit 1 if RSS grows
#   COUNT=2000 FORMAT=json bash tools/bench/rss-flat.sh   # fewer images; table|csv|json output
#   MAX_GROWTH=250000 bash tools/bench/rss-flat.sh        # a stricter bar, in bytes (default 1000000)
#
# Images: the Fashion-MNIST test split (10,000 garments, /usr/share/datasets/fashion-mnist or
# $FMNIST), rendered as tools/model/fmnist-examples.py renders the examples (28x28 centred on a
# black 32x32 canvas, gray to RGB), by tools/bench/rss-flat-images.py into $POCKETCLIP_RSS_DIR
# (default ~/.cache/pocketclip-rss, never the repo) and reused while the count matches. Without the
# dataset the same script writes random-noise PNGs. Needs Pillow and numpy ($PYTHON, default
# VENV/bin/python) only to make the images.
#
# Figures (KiB as /proc reports them; MB = 10^6 bytes, as in the README):
#   start        the first sample once exec has made the process pocketclip (samples are 10 ms
#                apart until the first progress report, 100 ms after); it lands somewhere in the
#                loader's and the model's first milliseconds, so it reads 0.4-17 MB from run to run
#   after warm-up  the first sample taken once the CLI has reported WARMUP (default 500) images
#                classified (`classify --progress` writes "classified N of M images" to stderr
#                every 100 images): model loaded, class embeddings built, buffers and allocator
#                arenas at their working size
#   end          the last sample before the CLI reported the last image (within its last ~350
#                images; after that the process frees the model and exits, and RSS falls)
#   growth       end - after warm-up; the run fails (exit 1) if it is >= MAX_GROWTH (1 MB). The
#                peak after warm-up is printed too, to show the curve stays flat in between.
#                How sensitive 1 MB is: keeping every result in memory (what classify did before
#                it streamed; a temporary build of the streaming CLI that also kept them, since
#                the old CLI had no --files-from) measured +764 KiB
#                over the 9,300 images after warm-up, just under it;
#                the streaming command measures +0 KiB, so MAX_GROWTH=250000 also passes.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
count=${COUNT:-10000}
warmup=${WARMUP:-500}
max_growth=${MAX_GROWTH:-1000000}
format=${FORMAT:-csv}
work=${POCKETCLIP_RSS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pocketclip-rss}
python=${PYTHON:-python3}
model=models/pocketclip-fmnist.pclip
labels=examples/fashion-labels.txt
bin=.build/release/pocketclip

[[ $format == table || $format == csv || $format == json ]] || { echo "FORMAT must be table, csv or json" >&2; exit 2; }
(( warmup < count )) || { echo "WARMUP ($warmup) must be below COUNT ($count)" >&2; exit 2; }
swift build -c release --product pocketclip 2>&1 | tail -1 >&2
"$python" tools/bench/rss-flat-images.py "$work/images" "$count" >&2

flag=(); [[ $format == table ]] || flag=("--$format")
python3 - "$work" "$count" "$warmup" "$max_growth" "$format" "$bin" classify "$model" --labels-file "$labels" --progress "${flag[@]}" <<'PY'
import os, re, subprocess, sys, time
work, count, warmup, max_growth, fmt, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6:]
images = sorted(os.path.join(work, "images", f) for f in os.listdir(os.path.join(work, "images")) if f.endswith(".png"))[:count]
assert len(images) == count, f"{len(images)} images in {work}/images, expected {count}"
out_path, err_path = os.path.join(work, "out." + fmt), os.path.join(work, "stderr.txt")

def status(pid):
    """VmRSS, RssAnon, RssFile in KiB, or None before exec has made it pocketclip or once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        if fields["Name"].strip() != os.path.basename(cmd[0])[:15]:
            return None
        return tuple(int(fields[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssFile"))
    except (OSError, KeyError, ValueError):
        return None

samples = []  # (seconds, images done, VmRSS, RssAnon, RssFile)
done, pending = 0, b""
with open(out_path, "wb") as out, open(err_path, "wb") as err, open(err_path, "rb") as progress:
    # The paths go in a list file: ArgumentParser takes seconds over 10,000 arguments (quadratic).
    with open(os.path.join(work, "images.txt"), "w") as f:
        f.writelines(path + "\n" for path in images)
    p = subprocess.Popen(cmd + ["--files-from", os.path.join(work, "images.txt")], stdout=out, stderr=err)
    t0 = time.monotonic()
    while True:
        pid, wait_status, _ = os.wait4(p.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(wait_status)
            break
        s = status(p.pid)
        pending += progress.read()
        *lines, pending = pending.split(b"\n")  # whole lines only
        for n in re.findall(rb"classified (\d+) of", b"\n".join(lines)):
            done = int(n)
        if s:
            samples.append((time.monotonic() - t0, done) + s)
        time.sleep(0.01 if done == 0 else 0.1)  # finer until the first report: the start is caught at exec
    elapsed = time.monotonic() - t0
if code != 0:
    sys.exit(f"pocketclip exited with {code}: {open(err_path).read().strip()[-500:]}")

# The output must hold every image once: the run really classified them all.
text = open(out_path).read()
if fmt == "csv":
    rows = text.rstrip("\n").split("\n")[1:]
elif fmt == "json":
    import json
    rows = json.loads(text)["results"]
else:
    rows = [l for l in text.split("\n") if l and not l.startswith(" ")]
with open(os.path.join(work, "samples.csv"), "w") as f:
    f.write("seconds,images_done,vmrss_kib,rss_anon_kib,rss_file_kib\n")
    f.writelines(f"{t:.2f},{d},{r},{a},{fl}\n" for t, d, r, a, fl in samples)
assert len(rows) == count, f"{len(rows)} results in {out_path}, expected {count}"

warm = next((s for s in samples if s[1] >= warmup), None)
assert warm is not None and len(samples) >= 3, f"too few samples ({len(samples)}): the run was too short to measure"
start = samples[0]
# Not the very last sample: once the last image is done the process tears down (the model is
# freed) and RSS falls, which would hide growth. The last sample before "classified COUNT" instead.
end = next((s for s in reversed(samples) if s[1] < count), samples[-1])
peak = max(samples[samples.index(warm):], key=lambda s: s[2])
growth = end[2] - warm[2]
def line(name, s):
    print(f"  {name:<14} {s[2]:>8} KiB = {s[2] * 1024 / 1e6:5.1f} MB  (anon {s[3]}, file {s[4]} KiB)  at {s[0]:5.1f} s, {s[1]:>5} images done")
print(f"classify {count} images, one process, {fmt} output, {len(samples)} samples of VmRSS (every 0.1 s; 0.01 s before the first 100 images):")
line("start", start)
line("after warm-up", warm)
line("peak after", peak)
line("end", end)
print(f"  growth after warm-up: {growth:+d} KiB ({growth * 1024 / 1e6:+.3f} MB; it must stay below {max_growth / 1e6:g} MB)")
print(f"  run time {elapsed:.1f} s ({1000 * elapsed / count:.2f} ms per image incl. model load)")
sys.exit(0 if growth * 1024 < max_growth else 1)
PY
