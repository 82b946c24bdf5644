#!/bin/bash
# Issue 9's sequence-parallel efficiency: one Diffuser attention layer (forward + backward, d 256, 4
# heads, K 5, the official pattern) on one sequence of L tokens, at 1 rank (the unsplit, fused path) and
# split over P ranks (contiguous and METIS), each rank bound to a core; efficiency = T1 / (P T_P), from
# this one run. Needs P free cores (pause other work first: kill -STOP / -CONT).
#   tests/bench/diffuser_sequence_parallel.sh [LENGTHS="4096 16384"]   env: P (default 2), REPS (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/tests/relfm_diffuser_sequence_parallel}
LENGTHS=${1:-"4096 16384"}
P=${P:-2}
REPS=${REPS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
OUT=$(mktemp)
for L in $LENGTHS; do
  mpirun -n 1 --bind-to core "$BIN" "$L" 256 4 5 "$REPS" | tee -a "$OUT"
  for how in contiguous metis; do
    mpirun -n "$P" --bind-to core "$BIN" "$L" 256 4 5 "$REPS" "$how" | tee -a "$OUT"
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'L':>6} {'split':>10} {'ranks':>5} {'seconds':>8} {'speed-up':>8} {'efficiency':>10} {'edges/rank':>10} {'halo rows':>9} {'peak MB':>8}")
for r in rows:
    one = next(x for x in rows if x["L"] == r["L"] and x["ranks"] == 1)
    speed = one["seconds"] / r["seconds"]
    print(f"{r['L']:>6} {r['split'] if r['ranks'] > 1 else '(unsplit)':>10} {r['ranks']:>5} {r['seconds']:>8.3f} {speed:>8.2f} "
          f"{100 * speed / r['ranks']:>9.1f}% {r['most_edges_per_rank']:>10} {r['most_halo_rows']:>9} {r['peak_mb']:>8.0f}")
print(f"gemm: {rows[0]['gemm']}")
PY
rm -f "$OUT"
