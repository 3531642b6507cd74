#!/usr/bin/env python3
"""Peak memory of one run of a command, for the memory scripts (bench/memory-budget.sh,
board/board-memory.sh):

    python3 tools/bench/peak-rss.py [--log FILE] CMD [ARG...]

Prints "RSS ANON" in MB (10^6 bytes). RSS is the run's peak resident set, ru_maxrss from wait4
(the number `/usr/bin/time -v` reports). ANON is the peak of RssAnon, sampled every millisecond
from /proc/PID/status: memory the process owns, as opposed to file pages such as a mapped .pclip,
which the kernel can drop and re-read. The command's stdout and stderr go to FILE (default: a
temporary file). A failed run prints its output and exits non-zero: it must not become a number
in a table. Needs only python3.
"""
import os
import subprocess
import sys
import tempfile
import time


def main(argv):
    log_path = None
    if argv[:1] == ["--log"]:
        log_path, argv = argv[1], argv[2:]
    if not argv:
        sys.exit(__doc__.strip())
    with (open(log_path, "w+b") if log_path else tempfile.TemporaryFile()) as log:
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        anon = 0
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            anon = max(anon, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.001)
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-2000:])
            sys.exit(f"peak-rss: {' '.join(argv)} failed (exit {os.waitstatus_to_exitcode(status)})")
    print(f"{ru.ru_maxrss * 1024 / 1e6:.1f} {anon * 1024 / 1e6:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
