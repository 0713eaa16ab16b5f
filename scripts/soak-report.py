#!/usr/bin/env python3
"""Turns the soak run's samples (scripts/bench --soak) into a markdown summary and a PNG of RSS,
descriptors and round-trip p99 over time. Flat means no leak: the last quarter's medians are
compared with the second quarter's (the first is the ramp-up)."""
import json
import os
import shutil
import statistics
import subprocess
import sys

path, quick = sys.argv[1], sys.argv[2] == "true"
run = json.load(open(path))
samples = run.get("samples", [])
out_dir = os.path.dirname(path) if quick else "docs/bench"
os.makedirs(out_dir, exist_ok=True)

def window(key, start, end):
    values = [s[key] for s in samples[int(len(samples) * start):int(len(samples) * end)] if key in s]
    return statistics.median(values) if values else None

lines = [
    f"Soak: {run.get('sessions')} sessions, {samples[-1]['t'] if samples else 0:.0f} s, "
    f"{len(samples)} samples, {run.get('errors', 'n/a')} session errors.",
    "",
    "| measure | 2nd quarter (median) | last quarter (median) | change |",
    "|---|---|---|---|",
]
for title, key in [("proxy RSS (KiB)", "rss_kib"), ("proxy descriptors", "fds"),
                   ("round trip p99 (µs)", "p99_us"), ("downstream (MB/s)", "mb_per_s"),
                   ("new sessions per second", "connects_per_s")]:
    early, late = window(key, 0.25, 0.5), window(key, 0.75, 1.0)
    if early is None or late is None:
        lines.append(f"| {title} | n/a | n/a | n/a |")
        continue
    change = "n/a" if not early else f"{(late - early) / early * 100:+.1f} %"
    lines.append(f"| {title} | {early:,.0f} | {late:,.0f} | {change} |")
text = "\n".join(lines) + "\n"
print(text)
with open(os.path.join(out_dir, "soak.md"), "w") as f:
    f.write(text)
if not quick:
    shutil.copy(path, os.path.join(out_dir, "soak.json"))

if shutil.which("gnuplot") and samples:
    data = os.path.join(os.path.dirname(path), "soak.dat")
    with open(data, "w") as f:
        f.write("# t rss_mib fds p99_us mb_per_s\n")
        for s in samples:
            f.write(f"{s['t']} {s['rss_kib'] / 1024:.2f} {s['fds']} {s['p99_us']} {s['mb_per_s']:.1f}\n")
    png = os.path.join(out_dir, "soak.png")
    script = f"""
set terminal pngcairo size 900,800
set output '{png}'
set multiplot layout 3,1 title 'vncgate soak: {run.get("sessions")} sessions, mixed load'
set grid
set xlabel 'seconds'
set ylabel 'RSS (MiB)'
set yrange [0:*]
plot '{data}' using 1:2 with lines lw 2 title 'proxy RSS'
set ylabel 'descriptors'
plot '{data}' using 1:3 with lines lw 2 title 'proxy descriptors'
set ylabel 'p99 (µs)'
plot '{data}' using 1:4 with lines lw 2 title 'round trip p99'
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    print(f"chart: {png}")
