#!/usr/bin/env python3
"""Peak memory of a command, anonymous and file-backed resident memory separately.

Runs COMMAND, samples /proc/PID/status of it and of its children every --interval seconds,
and prints the peaks of RssAnon (heap, buffers: what the process really needs) and RssFile
(pages of memory-mapped files: the kernel can drop them when memory runs short), and the
wall time. With --json, also writes them to a file.

Usage
    benches/peak_memory.py [--interval 0.05] [--json OUT] -- COMMAND [ARGS...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def status_kib(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssFile", "VmHWM"):
                out[k] = int(v.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    pids = [int(k) for k in kids]
    return pids + [g for k in pids for g in children(k)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--json", type=Path)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command")
    t0 = time.time()
    proc = subprocess.Popen(cmd)
    peak = {"RssAnon": 0, "RssFile": 0, "Rss": 0}
    while proc.poll() is None:
        tot = {"RssAnon": 0, "RssFile": 0}
        for pid in [proc.pid, *children(proc.pid)]:
            s = status_kib(pid)
            tot["RssAnon"] += s.get("RssAnon", 0)
            tot["RssFile"] += s.get("RssFile", 0)
        peak["RssAnon"] = max(peak["RssAnon"], tot["RssAnon"])
        peak["RssFile"] = max(peak["RssFile"], tot["RssFile"])
        peak["Rss"] = max(peak["Rss"], tot["RssAnon"] + tot["RssFile"])
        time.sleep(a.interval)
    secs = time.time() - t0
    mib = {k: v / 1024 for k, v in peak.items()}
    print(f"peak_memory: exit {proc.returncode}, {secs:.1f} s, peak anonymous {mib['RssAnon']:.0f} MiB, "
          f"peak file-backed {mib['RssFile']:.0f} MiB, peak total {mib['Rss']:.0f} MiB", file=sys.stderr)
    if a.json:
        a.json.write_text(json.dumps({"command": cmd, "exit": proc.returncode, "seconds": round(secs, 2),
                                      "peak_anon_mib": round(mib["RssAnon"], 1),
                                      "peak_file_mib": round(mib["RssFile"], 1),
                                      "peak_total_mib": round(mib["Rss"], 1)}, indent=2) + "\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
