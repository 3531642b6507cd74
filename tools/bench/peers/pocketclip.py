"""The PocketCLIP side of tools/bench/bench-peers.py: the CLI commands it calls, and a fresh-process
runner that reads a child's peak RSS (GNU time). Every failure becomes `Unavailable` with a
one-line reason, so a missing command makes a row "n/a: <reason>" instead of stopping the run.

The benchmark command the harness is written against (one JSON object on stdout):

    pocketclip bench MODEL.pclip --image PATH --batch B --threads T --runs N --warmup W --json
        {"image_ms": [N per-run wall ms], "median_ms": x, "p90_ms": y,
         "embedding": [first image's embedding]}
    pocketclip bench MODEL.pclip --text "..." --threads T --runs N --warmup W --json
        {"text_ms": [N per-run wall ms], "median_ms": x, "p90_ms": y,
         "embedding": [the text's embedding]}

Optional in both: "cpu_ms": [N per-run process CPU ms] (getrusage/clock_gettime(CLOCK_PROCESS_CPUTIME_ID)
around each run); the harness then reports CPU time / wall time, which shows when other jobs
held the cores.

A run is one forward pass of the whole batch (preprocessing of the decoded image and
tokenization outside the timed region are both fine; say which in the command's help); the W
warm-up runs are not reported. The harness computes its own median and p90 from the per-run
lists, pooled over the interleaved blocks.
"""

import json
import subprocess
import tempfile
import time
from pathlib import Path

# A block of runs or a classify call that takes longer than this is hung, not slow.
TIMEOUT_SECONDS = 900
GNU_TIME = "/usr/bin/time"


class Unavailable(Exception):
    """A PocketCLIP measurement that cannot be made; str(e) is the reason shown in the table."""


def run_measured(cmd, timeout=TIMEOUT_SECONDS):
    """Runs `cmd` in a fresh process under GNU time. Returns (returncode, stdout, stderr,
    peak_rss_bytes, seconds).

    Why not wait4 on our own child: Linux records, at exec, the high-water RSS of the process
    image being replaced, and a child forked from this process (which holds GBs of ONNX Runtime
    sessions) starts with the parent's RSS as its high-water mark. /usr/bin/time is forked from
    here too, but it forks the measured command from its own small image, so the ru_maxrss it
    reads is the command's alone."""
    if not Path(GNU_TIME).exists():
        raise SystemExit(f"error: {GNU_TIME} (GNU time) is needed for the peak-RSS rows: apt-get install time")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rusage:
        t0 = time.perf_counter()
        proc = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", rusage.name] + list(cmd),
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        # GNU time writes "Command exited with non-zero status N" before the figure on failure.
        fields = rusage.read().split()
        rss = int(fields[-1]) * 1024 if fields and fields[-1].isdigit() else 0
        return (proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                rss, seconds)


def last_line(text):
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no output"


class PocketCLIP:
    def __init__(self, binary, model):
        self.binary, self.model = Path(binary), Path(model)
        self.kernels = "unknown"  # set from `bench --json` once it has run

    def check_binary(self):
        if not self.binary.exists():
            raise Unavailable(f"no binary at {self.binary} (swift build -c release --product pocketclip)")

    def has_subcommand(self, name, flag=None):
        """True when `pocketclip help NAME` shows that subcommand's own usage (an unknown name
        prints the top-level help and exits 0), mentioning `flag` if one is given."""
        try:
            self.check_binary()
        except Unavailable:
            return False
        proc = subprocess.run([str(self.binary), "help"] + name.split(), capture_output=True, text=True, timeout=60)
        return (proc.returncode == 0 and f"USAGE: pocketclip {name} " in proc.stdout
                and (flag is None or flag in proc.stdout))

    def convert(self, checkpoint, output):
        self.check_binary()
        proc = subprocess.run([str(self.binary), "convert", str(checkpoint), "-o", str(output), "--json"],
                              capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        if proc.returncode != 0:
            raise Unavailable(f"pocketclip convert failed: {last_line(proc.stderr)}")

    def build_head(self, labels, output):
        """`pocketclip head build MODEL --labels LABELS -o OUTPUT` (default template)."""
        self.check_binary()
        if not self.has_subcommand("head build"):
            raise Unavailable("`pocketclip head build` not implemented in this binary")
        proc = subprocess.run([str(self.binary), "head", "build", str(self.model), "--labels", labels,
                               "-o", str(output)], capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        if proc.returncode != 0:
            raise Unavailable(f"pocketclip head build failed: {last_line(proc.stderr)}")

    def weight_bytes(self):
        """The in-memory size of every tensor in the .pclip (int8 weights + scales + f32 rest)."""
        self.check_binary()
        proc = subprocess.run([str(self.binary), "inspect", str(self.model), "--json"],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise Unavailable(f"pocketclip inspect failed: {last_line(proc.stderr)}")
        return sum(t["decoded_bytes"] for t in json.loads(proc.stdout)["tensors"])

    def bench(self, *, image=None, batch=1, text=None, threads, runs, warmup):
        """One block of timed runs: (wall ms per run, CPU ms per run or None, embedding)."""
        cmd = [str(self.binary), "bench", str(self.model)]
        cmd += ["--image", str(image), "--batch", str(batch)] if image is not None else ["--text", text]
        cmd += ["--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup), "--json"]
        rc, out, err, _, _ = run_measured(cmd)
        if rc != 0:
            raise Unavailable(f"pocketclip bench exited {rc}: {last_line(err)}")
        try:
            result = json.loads(out)
            times = result["image_ms" if image is not None else "text_ms"]
            embedding = result["embedding"]
        except (ValueError, KeyError) as e:
            raise Unavailable(f"pocketclip bench printed unexpected JSON ({e!r}): {out[:120]!r}")
        if len(times) != runs:
            raise Unavailable(f"pocketclip bench reported {len(times)} runs, asked for {runs}")
        cpu = result.get("cpu_ms")  # optional: per-run process CPU ms, same length as the times
        cpu = [float(c) for c in cpu] if isinstance(cpu, list) and len(cpu) == runs else None
        self.kernels = result.get("kernels", self.kernels)  # the int8 path dispatched (pc_kernels.h)
        return [float(t) for t in times], cpu, embedding

    def embed(self, image, texts):
        """Embeddings from `pocketclip embed` (fallback for the cosines before `bench` exists)."""
        cmd = [str(self.binary), "embed", str(self.model), "--image", str(image)]
        for t in texts:
            cmd += ["--text", t]
        rc, out, err, _, _ = run_measured(cmd)
        if rc != 0:
            raise Unavailable(f"pocketclip embed exited {rc}: {last_line(err)}")
        result = json.loads(out)
        return result["images"][0]["embedding"], [t["embedding"] for t in result["texts"]]

    def peak_rss(self, args):
        """Peak RSS in bytes of `pocketclip ARGS` in a fresh process."""
        self.check_binary()
        rc, _, err, rss, _ = run_measured([str(self.binary)] + args)
        if rc != 0:
            raise Unavailable(f"`pocketclip {args[0]}` exited {rc}: {last_line(err)}")
        return rss
