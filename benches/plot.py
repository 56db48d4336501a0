#!/usr/bin/env python3
"""Plots hwal-peers results: throughput and p99 latency against the number of writers.

Reads the JSON files benches/run-peers.sh writes (peers-w<writers>-r<run>.json, each one
`hwal-peers --json` object) from a results directory and writes, into the same directory
(or --out):
  throughput_vs_writers.png   ops/s per engine (median of the runs; bars span min..max)
  p99_vs_writers.png          p99 latency in µs per engine (same; log scale)

Usage: python3 benches/plot.py [RESULTS_DIR] [--out DIR]     (needs: pip install matplotlib)
"""

import argparse
import glob
import json
import os
import re
import statistics
import sys

ORDER = ["hwal-scheduled", "hwal-classic", "raft-engine", "okaywal"]
NAME = re.compile(r"peers-w(\d+)-r(\d+)\.json$")


def load(results_dir):
    """{engine: {writers: [run objects]}} from every peers-w*-r*.json in results_dir."""
    data = {}
    files = sorted(glob.glob(os.path.join(results_dir, "peers-w*-r*.json")))
    if not files:
        sys.exit(f"plot.py: no peers-w*-r*.json files in {results_dir}; run benches/run-peers.sh first")
    for path in files:
        m = NAME.search(os.path.basename(path))
        if not m:
            continue
        writers = int(m.group(1))
        try:
            with open(path) as f:
                obj = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            sys.exit(f"plot.py: {path}: not a hwal-peers JSON object: {e}")
        for engine, r in obj.items():
            for key in ("ops_per_sec", "p99_us"):
                if not isinstance(r.get(key), (int, float)):
                    sys.exit(f"plot.py: {path}: engine {engine} has no numeric {key}")
            data.setdefault(engine, {}).setdefault(writers, []).append(r)
    return data


def series(runs_by_writers, key):
    """Sorted writers, medians, and (below, above) distances to min and max."""
    writers = sorted(runs_by_writers)
    med, lo, hi = [], [], []
    for w in writers:
        vals = [r[key] for r in runs_by_writers[w]]
        m = statistics.median(vals)
        med.append(m)
        lo.append(m - min(vals))
        hi.append(max(vals) - m)
    return writers, med, (lo, hi)


def subtitle(results_dir):
    path = os.path.join(results_dir, "meta.json")
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, json.JSONDecodeError):
        return ""
    return (f"{m.get('value_size', '?')} B values, {m.get('ops', '?')} ops/engine, {m.get('runs', '?')} runs, "
            f"{m.get('cpus', '?')} CPUs, {m.get('filesystem', '?')}, {m.get('git_commit', '')[:10]}")


def plot(data, key, ylabel, title, out_path, sub, log_y):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    engines = [e for e in ORDER if e in data] + sorted(e for e in data if e not in ORDER)
    all_writers = set()
    for engine in engines:
        writers, med, err = series(data[engine], key)
        all_writers.update(writers)
        ax.errorbar(writers, med, yerr=err, marker="o", capsize=3, label=engine)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(all_writers))
    ax.set_xticklabels([str(w) for w in sorted(all_writers)])
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("writers (threads, each waiting for fdatasync)")
    ax.set_ylabel(ylabel)
    ax.set_title(title + ("\n" + sub if sub else ""), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    print(f"plot.py: wrote {out_path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results_dir", nargs="?", default=os.path.join(os.path.dirname(__file__), "results"))
    p.add_argument("--out", help="directory for the PNG files (default: the results directory)")
    a = p.parse_args()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("plot.py: matplotlib is missing; pip install matplotlib")
    data = load(a.results_dir)
    out = a.out or a.results_dir
    os.makedirs(out, exist_ok=True)
    sub = subtitle(a.results_dir)
    plot(data, "ops_per_sec", "durable ops/s", "Throughput vs writers", os.path.join(out, "throughput_vs_writers.png"),
         sub, log_y=False)
    plot(data, "p99_us", "p99 latency (µs)", "p99 latency vs writers", os.path.join(out, "p99_vs_writers.png"), sub,
         log_y=True)


if __name__ == "__main__":
    main()
