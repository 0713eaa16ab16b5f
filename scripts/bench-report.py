#!/usr/bin/env python3
"""Turns scripts/bench's results.jsonl into a markdown table (medians of the rounds, and the
ratios vncgate/direct and vncgate/websockify) and a PNG chart drawn by gnuplot."""
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict

results_path, quick = sys.argv[1], sys.argv[2] == "true"
rows = [json.loads(line) for line in open(results_path) if line.strip()]
errors = [r for r in rows if "error" in r]
samples = defaultdict(list)
for r in rows:
    if "error" not in r:
        samples[(r["label"], r["scenario"])].append(r)

def median(label, scenario, key):
    values = [r[key] for r in samples.get((label, scenario), []) if key in r]
    return statistics.median(values) if values else None

def fmt(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"

def ratio(a, b, digits=2):
    return "n/a" if a is None or b in (None, 0) else f"{a / b:.{digits}f}×"

labels = ["direct", "relay", "websockify", "vncgate", "vncgate-tls"]
metrics = [
    ("downstream, 1 session (MB/s)", "down", "mb_per_s", True),
    ("downstream, 20 sessions, total (MB/s)", "down20", "mb_per_s", True),
    ("upstream, 1 session (MB/s)", "up", "mb_per_s", True),
    ("round trip p50 (µs)", "latency", "p50_us", False),
    ("round trip p99 (µs)", "latency", "p99_us", False),
    ("round trip max (µs)", "latency", "max_us", False),
    ("new sessions per second", "connect", "sessions_per_s", True),
]
def cpu_per_gb(label, scenario):
    """The proxy's CPU seconds per GB relayed, the median over rounds."""
    values = [
        r["proxy_cpu_s"] / (r["mb_per_s"] * r["seconds"] / 1000)
        for r in samples.get((label, scenario), [])
        if r.get("proxy_cpu_s") is not None and r.get("mb_per_s") and r.get("seconds")
    ]
    return statistics.median(values) if values else None

lines = []
lines.append("| scenario | direct TCP | plain TCP relay | websockify | vncgate | vncgate TLS+VeNCrypt | vncgate/relay | vncgate/direct | vncgate/websockify | TLS cost (tls/plain) |")
lines.append("|---|---|---|---|---|---|---|---|---|---|")
for title, scenario, key, higher in metrics:
    values = {label: median(label, scenario, key) for label in labels}
    lines.append(
        f"| {title} | {fmt(values['direct'])} | {fmt(values['relay'])} | {fmt(values['websockify'])} | {fmt(values['vncgate'])} | "
        f"{fmt(values['vncgate-tls'])} | {ratio(values['vncgate'], values['relay'])} | {ratio(values['vncgate'], values['direct'])} | "
        f"{ratio(values['vncgate'], values['websockify'])} | {ratio(values['vncgate-tls'], values['vncgate'])} |"
    )
added = lambda label: (median(label, "latency", "p99_us") or 0) - (median("direct", "latency", "p99_us") or 0)
lines.append("")
lines.append(f"Added p99 round trip over direct TCP: plain relay {added('relay'):.0f} µs, vncgate {added('vncgate'):.0f} µs, websockify {added('websockify'):.0f} µs, vncgate TLS+VeNCrypt {added('vncgate-tls'):.0f} µs.")

lines.append("")
lines.append("| RFB downstream, 1 session, through vncgate (MB/s) | plain relay | every server message framed (clipboard policy) | framed/plain | CPU s/GB plain | CPU s/GB framed |")
lines.append("|---|---|---|---|---|---|")
for title, scenario in [("Raw 1024×768 updates", "rfb-down-0"), ("Hextile, raw tiles (a tile at a time)", "rfb-down-5")]:
    plain = median("vncgate", scenario, "mb_per_s")
    framed = median("vncgate-filtered", scenario, "mb_per_s")
    lines.append(
        f"| {title} | {fmt(plain)} | {fmt(framed)} | {ratio(framed, plain)} | "
        f"{fmt(cpu_per_gb('vncgate', scenario), 2)} | {fmt(cpu_per_gb('vncgate-filtered', scenario), 2)} |"
    )

lines.append("")
lines.append("| Recording every session (age, to one recipient) | MB/s not recorded | MB/s recorded | recorded/not | CPU s/GB not recorded | CPU s/GB recorded |")
lines.append("|---|---|---|---|---|---|")
for title, scenario in [("downstream, 1 session", "down"), ("downstream, 20 sessions", "down20"), ("RFB Raw updates, 1 session", "rfb-down-0")]:
    plain = median("vncgate", scenario, "mb_per_s")
    recorded = median("vncgate-recorded", scenario, "mb_per_s")
    lines.append(
        f"| {title} | {fmt(plain)} | {fmt(recorded)} | {ratio(recorded, plain)} | "
        f"{fmt(cpu_per_gb('vncgate', scenario), 2)} | {fmt(cpu_per_gb('vncgate-recorded', scenario), 2)} |"
    )

lines.append("")
lines.append("| proxy CPU per GB relayed (CPU seconds) | plain TCP relay | websockify | vncgate | vncgate TLS+VeNCrypt | vncgate/relay | TLS/plain vncgate | MB/s one vncgate core relays |")
lines.append("|---|---|---|---|---|---|---|---|")
for title, scenario in [("downstream, 1 session", "down"), ("downstream, 20 sessions", "down20"), ("upstream, 1 session", "up")]:
    per = {label: cpu_per_gb(label, scenario) for label in labels[1:]}
    core = "n/a" if not per["vncgate"] else f"{1000 / per['vncgate']:,.0f}"
    lines.append(
        f"| {title} | {fmt(per['relay'], 2)} | {fmt(per['websockify'], 2)} | {fmt(per['vncgate'], 2)} | {fmt(per['vncgate-tls'], 2)} "
        f"| {ratio(per['vncgate'], per['relay'])} | {ratio(per['vncgate-tls'], per['vncgate'])} | {core} |"
    )
lines.append("")
lines.append("| idle sessions | proxy | opened | held | RSS per session (KiB) |")
lines.append("|---|---|---|---|---|")
for r in rows:
    if r.get("scenario") == "idle":
        if "error" in r:
            lines.append(f"| ? | {r['label']} | error: {r['error']} | | |")
        else:
            lines.append(f"| {r['asked']:,} | {r['label']} | {r['opened']:,} | {r['held']:,} | {r['per_session_kib']:.1f} |")
if errors:
    lines.append("")
    lines.append("Errors: " + "; ".join(f"{e.get('label')}/{e.get('scenario')}: {e['error']}" for e in errors))

cpu = ""
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
rounds = max((len(v) for v in samples.values()), default=0)
header = [
    f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
    f"load tool and proxies share the cores; loopback only. Medians of {rounds} round(s).",
    "",
]
table = "\n".join(header + lines) + "\n"
print(table)

out_dir = os.path.join(os.path.dirname(results_path)) if quick else "docs/bench"
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "latest.md"), "w") as f:
    f.write(table)
copy = os.path.join(out_dir, "results.jsonl")
if not quick and os.path.abspath(results_path) != os.path.abspath(copy):
    shutil.copy(results_path, copy)

if shutil.which("gnuplot"):
    data = os.path.join("target" if not quick else os.path.dirname(results_path), "chart.dat")
    with open(data, "w") as f:
        f.write("# scenario direct relay websockify vncgate vncgate-tls\n")
        for title, scenario, key, _ in metrics[:3]:
            values = [median(label, scenario, key) or 0 for label in labels]
            name = {"down": "down-1", "down20": "down-20", "up": "up-1"}[scenario]
            f.write(name + " " + " ".join(f"{v:.1f}" for v in values) + "\n")
    png = os.path.join(out_dir, "throughput.png")
    script = f"""
set terminal pngcairo size 900,500
set output '{png}'
set title 'Throughput through the proxy (MB/s, higher is better)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top right
set ylabel 'MB/s'
set grid ytics
plot '{data}' using 2:xtic(1) title 'direct TCP', '' using 3 title 'plain TCP relay', '' using 4 title 'websockify', '' using 5 title 'vncgate', '' using 6 title 'vncgate TLS+VeNCrypt'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    print(f"chart: {png}")
