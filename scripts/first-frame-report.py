#!/usr/bin/env python3
"""Turns tests/browser/first-frame.mjs's findings into a markdown table: the median and p95
time to the first drawn frame of each page, cold and warm, and the ratios to websockify's.
Writes docs/bench/first-frame.md (target/bench/ for a quick run) and prints it."""
import json
import os
import platform
import statistics
import subprocess
import sys

path, quick = sys.argv[1], sys.argv[2] == "true"
found = json.load(open(path))
if "error" in found:
    sys.exit(f"first frame: {found['error']}")


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def chromium():
    try:
        return subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "chromium"


lines = [
    "# Time to the first frame",
    "",
    f"From navigation to the first drawn VM frame, in headless {chromium()}, on {platform.node()} "
    f"({os.cpu_count()} cores), over HTTPS on loopback; {len(found['websockify']['cold'])} loads each. "
    "Cold: a fresh browser context; warm: a reload in it. `scripts/bench --first-frame`.",
    "",
    "| page | cold median (ms) | cold p95 | warm median | warm p95 | cold, × websockify | warm, × websockify |",
    "|---|---|---|---|---|---|---|",
]
base = {kind: statistics.median(found["websockify"][kind]) for kind in ("cold", "warm")}
for label, times in found.items():
    cold, warm = statistics.median(times["cold"]), statistics.median(times["warm"])
    lines.append(
        f"| {label} | {cold:.0f} | {p95(times['cold']):.0f} | {warm:.0f} | {p95(times['warm']):.0f} "
        f"| {cold / base['cold']:.2f}× | {warm / base['warm']:.2f}× |"
    )
lines += [
    "",
    "websockify serves Debian's noVNC `vnc_lite.html` to the same QEMU; vncgate serves its own "
    "console page; `vncgate-vencrypt` reaches QEMU over VeNCrypt with mutual TLS, which "
    "websockify cannot.",
]
text = "\n".join(lines) + "\n"
out_dir = os.path.dirname(path) if quick else "docs/bench"
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "first-frame.md"), "w") as f:
    f.write(text)
print(text)
