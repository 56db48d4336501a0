#!/usr/bin/env bash
# Runs `hwal-peers --json` at 1, 8, 32 and 64 writers and saves one JSON file per run under
# benches/results/ (peers-w<writers>-r<run>.json), plus meta.json describing the machine and
# the run. benches/plot.py turns them into throughput_vs_writers.png and p99_vs_writers.png.
#
# Usage: benches/run-peers.sh            (from anywhere in the repo)
# Environment (all optional):
#   WRITERS="1 8 32 64"   writer counts
#   RUNS=3                runs per writer count (the plot shows the median and the range)
#   OPS=40000             operations per engine per run
#   VALUE_SIZE=100        value bytes
#   ENGINES=...           comma-separated engines (default: all four)
#   DIR=<path>            where hwal-peers creates its scratch directory (default: repo root);
#                         must be on the disk being measured, not a tmpfs
#   OUT=benches/results   where the JSON files go
#   PEERS_ARGS=""         extra hwal-peers flags, e.g. "--hwal-preallocate 0"
# Engines run one after another; run r starts the engine list rotated by r-1, so no engine
# always runs first (on a fresh page cache and journal) or last.
set -euo pipefail
cd "$(dirname "$0")/.."
WRITERS=${WRITERS:-"1 8 32 64"}
RUNS=${RUNS:-3}
OPS=${OPS:-40000}
VALUE_SIZE=${VALUE_SIZE:-100}
ENGINES=${ENGINES:-hwal-scheduled,hwal-classic,raft-engine,okaywal}
DIR=${DIR:-$PWD}
OUT=${OUT:-benches/results}
PEERS_ARGS=${PEERS_ARGS:-}
IFS=',' read -ra ENGINE_LIST <<<"$ENGINES"

mkdir -p "$OUT"
stale=$(find "$OUT" -maxdepth 1 -name 'peers-w*-r*.json' | sort)
if [ -n "$stale" ]; then
  echo "run-peers: removing results of an earlier run from $OUT:" >&2
  echo "$stale" | sed 's/^/  /' >&2
  echo "$stale" | xargs rm -f
fi

echo "run-peers: building hwal-peers (release)" >&2
cargo build --release --quiet -p hwal-peers

python3 - "$OUT/meta.json" "$WRITERS" "$RUNS" "$OPS" "$VALUE_SIZE" "$ENGINES" "$DIR" "$PEERS_ARGS" <<'PY'
import json, os, platform, subprocess, sys, datetime
out, writers, runs, ops, value_size, engines, d, extra = sys.argv[1:]
def sh(cmd):
    try: return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
meta = {
    "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "git_commit": sh("git rev-parse HEAD"), "git_dirty": bool(sh("git status --porcelain")),
    "kernel": platform.release(), "cpus": os.cpu_count(),
    "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-"),
    "filesystem": sh(f"df -T '{d}' | tail -1 | awk '{{print $1, $2}}'"),
    "load_avg_at_start": sh("cat /proc/loadavg"),
    "writers": [int(w) for w in writers.split()], "runs": int(runs), "ops": int(ops),
    "value_size": int(value_size), "engines": engines.split(","), "extra_args": extra,
}
json.dump(meta, open(out, "w"), indent=2)
PY

n=${#ENGINE_LIST[@]}
for r in $(seq 1 "$RUNS"); do
  k=$(( (r - 1) % n ))
  order=$(IFS=','; echo "${ENGINE_LIST[*]:k} ${ENGINE_LIST[*]:0:k}" | tr ' ' ',' | sed 's/,$//')
  for w in $WRITERS; do
    f="$OUT/peers-w$w-r$r.json"
    echo "run-peers: run $r/$RUNS, $w writers, order $order -> $f" >&2
    # shellcheck disable=SC2086 # PEERS_ARGS is a list of flags
    cargo run --release --quiet -p hwal-peers -- --threads "$w" --value-size "$VALUE_SIZE" --ops "$OPS" \
      --engines "$order" --dir "$DIR" --json $PEERS_ARGS >"$f.tmp"
    mv "$f.tmp" "$f"
  done
done
echo "run-peers: done; plot with: python3 benches/plot.py $OUT" >&2
