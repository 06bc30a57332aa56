#!/usr/bin/env python3
"""Ratios of the parser benchmark against the peers, from one criterion run.

    cargo bench --manifest-path benches/peers/Cargo.toml --ignore-rust-version -- peers
    python3 benches/peer_ratios.py [CRITERION_DIR]

CRITERION_DIR defaults to benches/peers/target/criterion. Prints, per
workload, each function's median time and throughput, and how many times
faster our parse_line and Assembler are than libtmux's per-line parser and
tmuxctl's engine (a peer's median divided by ours).
"""

import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "benches/peers/target/criterion"
WORKLOADS = ["peers-plain", "peers-escaped", "peers-mix"]
OURS = ["tmux-wire parse_line", "tmux-wire Assembler"]
PEERS = ["libtmux Line::parse", "tmuxctl Engine::feed"]


def median(group, function):
    """Median time in seconds and bytes per iteration, or None."""
    base = os.path.join(ROOT, group, function.replace(":", "_"), "new")
    try:
        with open(os.path.join(base, "estimates.json")) as f:
            estimates = json.load(f)
        with open(os.path.join(base, "benchmark.json")) as f:
            throughput = json.load(f).get("throughput") or {}
    except FileNotFoundError:
        return None
    return estimates["median"]["point_estimate"] * 1e-9, throughput.get("Bytes")


def main():
    for group in WORKLOADS:
        times = {}
        print(group)
        for function in OURS + PEERS:
            found = median(group, function)
            if found is None:
                print(f"  {function:24} (not measured)")
                continue
            seconds, size = found
            times[function] = seconds
            rate = f"{size / seconds / 2**20:9.0f} MiB/s" if size else ""
            print(f"  {function:24} {seconds * 1e3:9.3f} ms {rate}")
        for ours in OURS:
            if ours not in times:
                continue
            ratios = [f"{times[p] / times[ours]:5.1f}x vs {p.split()[0]}" for p in PEERS if p in times]
            print(f"  {ours:24} " + ", ".join(ratios))


if __name__ == "__main__":
    main()
