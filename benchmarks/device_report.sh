#!/usr/bin/env bash
# One-shot device report (under TOTAL_LIMIT, default 540 s): env throughput up to B = 1M envs,
# training throughput, sweep throughput, then `semjax paper --quick` in the time that is left
# (stopped cleanly at a program boundary; each finished program's seconds are in its spec's
# programs.csv), merged into one JSON report.
#
#   bash benchmarks/device_report.sh [OUT_DIR]        # default benchmarks/results/device_report
#
# Sizes follow the backend: on a GPU, B up to 2^20 envs, 4096-env training and 64 configs per
# sweep; on a CPU, smaller sizes (B up to 65536, 64 envs, 16 configs) so that it also
# finishes in minutes there. Each stage has its own time limit; a stage that runs out is
# recorded as such and the report is still written. Override the stage limits with
# ENV_LIMIT, TRAIN_LIMIT, SWEEP_LIMIT and the whole with TOTAL_LIMIT (seconds).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-benchmarks/results/device_report}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
BACKEND=$("$PY" -c 'import jax; print(jax.default_backend())')
START=$(date +%s)

if [ "$BACKEND" = "gpu" ] || [ "$BACKEND" = "cuda" ]; then
  ENV_ARGS=(--batch-sizes 1024,16384,131072,1048576 --num-ues 4 --max-env-ues 0 --repeats 3 --no-per-env --peer-budget 1)
  TRAIN_ARGS=(--widths 64,256 --num-envs 4096 --updates 10 --repeats 3)
  # On a GPU the sweep's XLA flags are CPU-only, so the default-settings loop is the same loop.
  SWEEP_ARGS=(--configs 64 --updates 10 --num-envs 256 --episodes 50 --no-default-loop)
else
  ENV_ARGS=(--batch-sizes 64,1024,16384,65536 --num-ues 4 --repeats 3 --no-per-env --peer-budget 0.5)
  TRAIN_ARGS=(--widths 64 --num-envs 64 --updates 10 --repeats 3)
  SWEEP_ARGS=(--configs 16 --updates 5 --num-envs 16 --episodes 20)
fi

stage() {  # stage NAME LIMIT_S COMMAND...: runs it, records its exit status and seconds
  local name=$1 limit=$2; shift 2
  local t0; t0=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "{\"rc\": $rc, \"seconds\": $(( $(date +%s) - t0 )), \"timed_out\": $([ $rc -eq 124 ] && echo true || echo false)}" > "$OUT/$name.status.json"
  echo "$name: rc $rc"
}

stage env "${ENV_LIMIT:-150}" "$PY" benchmarks/env_throughput.py "${ENV_ARGS[@]}" --out "$OUT/env_throughput.json"
stage train "${TRAIN_LIMIT:-120}" "$PY" benchmarks/train_throughput.py "${TRAIN_ARGS[@]}" --out "$OUT/train_throughput.json"
stage sweep "${SWEEP_LIMIT:-180}" "$PY" benchmarks/sweep_throughput.py "${SWEEP_ARGS[@]}" --out "$OUT/sweep_throughput.json"

# The quick paper in what is left: --stop-after ends it at a program boundary (exit 75) a minute
# before the stage's own limit, so a program in flight can finish and be recorded.
LEFT=$(( ${TOTAL_LIMIT:-540} - ($(date +%s) - START) - 30 ))
if [ "$LEFT" -ge 150 ]; then
  stage paper "$LEFT" "$PY" -m semjax.cli paper --quick --out "$OUT/paper_quick" --stop-after "$(( LEFT - 60 ))"
else
  echo "{\"rc\": null, \"seconds\": 0, \"timed_out\": false, \"skipped\": \"$LEFT s left\"}" > "$OUT/paper.status.json"
  echo "paper: skipped ($LEFT s left)"
fi

"$PY" - "$OUT" "$BACKEND" "$START" <<'PYEOF'
import json, sys, time
from pathlib import Path
from semjax.config import versions
from semjax.experiments.store import read_csv
out, backend, start = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
report = {"backend": backend, "versions": versions(), "total_seconds": time.time() - start}
for name, file in (("env", "env_throughput.json"), ("train", "train_throughput.json"), ("sweep", "sweep_throughput.json")):
    status = json.loads((out / f"{name}.status.json").read_text())
    result = json.loads((out / file).read_text()) if (out / file).is_file() and status["rc"] == 0 else None
    report[name] = {"status": status, "result": result}
paper = out / "paper_quick"
programs = {}
for spec in sorted(paper.glob("*/programs.csv")):
    programs[spec.parent.name] = read_csv(spec)
finished = json.loads((paper / "results.json").read_text()) if (paper / "results.json").is_file() else None
report["paper_quick"] = {"status": json.loads((out / "paper.status.json").read_text()), "programs": programs,
                         "finished": finished is not None,
                         "claims": finished.get("claims") if finished else None,
                         "headline": finished.get("headline") if finished else None,
                         "run": finished.get("run") if finished else None}
(out / "report.json").write_text(json.dumps(report, indent=2))
print(f"wrote {out / 'report.json'} in {report['total_seconds']:.0f} s")
PYEOF
