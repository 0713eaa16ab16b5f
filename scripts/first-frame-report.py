#!/usr/bin/env python3
"""Turns tests/browser/first-frame.mjs's findings into markdown tables, one per added latency:
the median and p95 time to the first drawn frame of each page, cold and warm, and the ratios to
websockify's. Writes docs/bench/first-frame.md (target/bench/ for a quick run) and prints it.
Usage: first-frame-report.py QUICK FINDINGS.json [FINDINGS.json …]"""
import json
import os
import platform
import statistics
import subprocess
import sys

quick, paths = sys.argv[1] == "true", sys.argv[2:]
runs = [json.load(open(path)) for path in paths]
for run in runs:
    if "error" in run:
        sys.exit(f"first frame: {run['error']}")


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def chromium():
    try:
        return subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "chromium"


loads = len(runs[0]["pages"]["websockify"]["cold"])
lines = [
    "# Time to the first frame",
    "",
    f"From navigation to the first drawn VM frame, in headless {chromium()}, on {platform.node()} "
    f"({os.cpu_count()} cores), over HTTPS on loopback; {loads} loads each. Cold: a fresh browser "
    "context; warm: a reload in it. `scripts/bench --first-frame`.",
]
for run in runs:
    pages = run["pages"]
    added = run["latency_ms"]
    lines += [
        "",
        f"## {added} ms added to every request" if added else "## Loopback",
        "",
        "| page | cold median (ms) | cold p95 | warm median | warm p95 | cold, × websockify | warm, × websockify |",
        "|---|---|---|---|---|---|---|",
    ]
    base = {kind: statistics.median(pages["websockify"][kind]) for kind in ("cold", "warm")}
    for label, times in pages.items():
        cold, warm = statistics.median(times["cold"]), statistics.median(times["warm"])
        lines.append(
            f"| {label} | {cold:.0f} | {p95(times['cold']):.0f} | {warm:.0f} | {p95(times['warm']):.0f} "
            f"| {cold / base['cold']:.2f}× | {warm / base['warm']:.2f}× |"
        )
lines += [
    "",
    "websockify serves Debian's noVNC `vnc_lite.html` to the same QEMU; vncgate serves its own "
    "console page; `vncgate-vencrypt` reaches QEMU over VeNCrypt with mutual TLS, which "
    "websockify cannot. The added latency is Chromium's network emulation.",
]
text = "\n".join(lines) + "\n"
out_dir = os.path.dirname(paths[0]) if quick else "docs/bench"
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "first-frame.md"), "w") as f:
    f.write(text)
print(text)
