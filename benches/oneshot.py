#!/usr/bin/env python3
"""One-shot CLI calls against the tmux CLI doing the same, on one server.

Each pair runs interleaved (ours, then tmux's) RUNS times; the medians of
whole-process wall time are printed with their ratio. Usage:

    cargo build --release
    python3 benches/oneshot.py [RUNS]

The server is a private one in a temporary directory, killed at the end.
"""

import statistics
import subprocess
import sys
import tempfile
import time

BIN = "target/release/tmux-wire"
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 40


def timed(argv):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main():
    with tempfile.TemporaryDirectory(prefix="tmux-wire-oneshot") as tmp:
        sock = tmp + "/s"
        subprocess.run([BIN, "-S", sock, "start", "web", "--", "sleep", "300"],
                       check=True, stdout=subprocess.DEVNULL)
        target = "=web:"
        cases = {
            "ls": ([BIN, "-S", sock, "ls"], ["tmux", "-S", sock, "ls"]),
            "status": ([BIN, "-S", sock, "status", "web"],
                       ["tmux", "-S", sock, "display", "-p", "-t", target,
                        "#{pane_pid} #{pane_dead}"]),
            "cmd display -p": ([BIN, "-S", sock, "cmd", "display", "-p", "-t", target, "#{pane_pid}"],
                               ["tmux", "-S", sock, "display", "-p", "-t", target, "#{pane_pid}"]),
            "send": ([BIN, "-S", sock, "send", "web", "x"],
                     ["tmux", "-S", sock, "send-keys", "-t", target, "-l", "x"]),
        }
        try:
            print(f"{'call':16} {'tmux-wire':>10} {'tmux':>10} {'ratio':>6}   (medians of {RUNS}, ms)")
            for name, (ours, theirs) in cases.items():
                a, b = [], []
                for _ in range(RUNS):
                    a.append(timed(ours))
                    b.append(timed(theirs))
                ma, mb = statistics.median(a) * 1e3, statistics.median(b) * 1e3
                print(f"{name:16} {ma:10.2f} {mb:10.2f} {ma / mb:6.2f}")
        finally:
            subprocess.run(["tmux", "-S", sock, "kill-server"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


if __name__ == "__main__":
    main()
