"""The machine a figure was measured on, for the benchmark and board scripts (imported, never
run). Every figure is printed with the CPU it was measured on: machines of one kind change CPU
between runs.

    sys.path.insert(0, str(Path(__file__).resolve().parent))   # from a script in tools/bench/
    from machine import cpu_model
"""
from pathlib import Path


def cpu_model():
    """/proc/cpuinfo's first "model name" (lscpu's "Model name"), or "unknown" where there is none
    (most ARM kernels)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
