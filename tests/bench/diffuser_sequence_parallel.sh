#!/bin/bash
# Issue 9's sequence-parallel efficiency: one Diffuser attention layer (forward + backward, d 256, 4
# heads, K 5, the official pattern) on one sequence of L tokens, at 1 rank (the unsplit, fused path) and
# split over P ranks (contiguous and METIS), each rank bound to a core; efficiency = T1 / (P T_P).
# This host's neighbours move the one-rank time by 30% from minute to minute, so the runs go in ROUNDS:
# each round runs the baseline and then every split, each split's efficiency is taken against its own
# round's baseline, and the table gives every round and the median over rounds. Needs P free cores
# (pause other work first: kill -STOP / -CONT).
#   tests/bench/diffuser_sequence_parallel.sh [LENGTHS="4096 16384"]   env: P (default 2), REPS (default 3),
#       ROUNDS (default 1), SPLITS (default "contiguous metis"), RELFM_RANDOM_LAYOUT (per_stride: not official)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/tests/relfm_diffuser_sequence_parallel}
LENGTHS=${1:-"4096 16384"}
P=${P:-2}
REPS=${REPS:-3}
ROUNDS=${ROUNDS:-1}
read -r -a SPLITS <<< "${SPLITS:-contiguous metis}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
OUT=$(mktemp)
for L in $LENGTHS; do
  for ((round = 1; round <= ROUNDS; ++round)); do
    mpirun -n 1 --bind-to core "$BIN" "$L" 256 4 5 "$REPS" | sed "s/^{/{\"round\": $round, /" | tee -a "$OUT"
    for how in "${SPLITS[@]}"; do
      mpirun -n "$P" --bind-to core "$BIN" "$L" 256 4 5 "$REPS" "$how" | sed "s/^{/{\"round\": $round, /" | tee -a "$OUT"
    done
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'L':>6} {'round':>5} {'split':>10} {'ranks':>5} {'seconds':>8} {'speed-up':>8} {'efficiency':>10} {'edges/rank':>10} {'halo rows':>9} {'peak MB':>8}")
eff = {}
for r in rows:
    one = next(x for x in rows if x["L"] == r["L"] and x["round"] == r["round"] and x["ranks"] == 1)
    speed = one["seconds"] / r["seconds"]
    split = r["split"] if r["ranks"] > 1 else "(unsplit)"
    if r["ranks"] > 1:
        eff.setdefault((r["L"], split), []).append(100 * speed / r["ranks"])
    print(f"{r['L']:>6} {r['round']:>5} {split:>10} {r['ranks']:>5} {r['seconds']:>8.3f} {speed:>8.2f} "
          f"{100 * speed / r['ranks']:>9.1f}% {r['most_edges_per_rank']:>10} {r['most_halo_rows']:>9} {r['peak_mb']:>8.0f}")
for (L, split), e in sorted(eff.items()):
    print(f"L {L} {split}: efficiency median {statistics.median(e):.1f}% over {len(e)} round(s) (min {min(e):.1f}%, max {max(e):.1f}%)")
print(f"gemm: {rows[0]['gemm']}; random keys: {os.environ.get('RELFM_RANDOM_LAYOUT', 'per_query')}")
PY
rm -f "$OUT"
