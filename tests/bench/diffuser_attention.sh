#!/bin/bash
# Issue 9's speed and memory benchmark: one attention layer, forward + backward, at L = 1k ... 16k
# (d 256, 4 heads, K 5) for Diffuser (the official pattern), relfm's dense attention and PyTorch's
# (Debian's python3-torch, one thread), each configuration in its own process (peak memory is that
# process's). Dense runs are skipped above DENSE_MAX (default 8192: 16k needs 4 heads x 16k^2 floats for
# the probabilities alone, plus the scores and their gradients). Prints the JSON lines and a table of
# ratios measured in this one run. relfm's layers run on the GEMM backend its start-up probe picks (as
# the trainer's): on a CPU where OpenBLAS has a fast kernel (OPENBLAS_CORETYPE unset on AVX-512 machines)
# that is OpenBLAS, which speeds up dense attention's big products far more than Diffuser's small tiles.
# RELFM_RANDOM_LAYOUT=per_stride runs Diffuser with each band stride's random keys shared (the pattern's
# attention.random_layout; not the official pattern), whose random edges then run in the band's tiles.
# RELFM_DROPOUT=0.1 runs Diffuser with the training job's dropouts (on A and every hop: the general backward).
#   tests/bench/diffuser_attention.sh [LENGTHS="1024 2048 4096 8192 16384"]   env: DENSE_MAX, REPS, RELFM_RANDOM_LAYOUT, RELFM_DROPOUT
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/require_torch.sh
BIN=${BIN:-build/tests/relfm_diffuser_attention}
LENGTHS=${1:-"1024 2048 4096 8192 16384"}
DENSE_MAX=${DENSE_MAX:-8192}
REPS=${REPS:-3}
OUT=$(mktemp)
for L in $LENGTHS; do
  taskset -c 1 "$BIN" diffuser "$L" 256 4 5 "$REPS" | tee -a "$OUT"
  if (( L <= DENSE_MAX )); then
    taskset -c 1 "$BIN" dense "$L" 256 4 5 "$REPS" | tee -a "$OUT"
    taskset -c 1 /usr/bin/python3 tests/bench/torch_attention.py "$L" 256 4 "$REPS" | tee -a "$OUT"
  fi
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {(r["kind"], r["L"]): r for r in rows}
print(f"\nDiffuser's random keys: {os.environ.get('RELFM_RANDOM_LAYOUT', 'per_query')}")
print("GEMM backends (relfm's start-up probe, as the trainer runs it): " +
      ", ".join(sorted({f"{r['kind']} {r['gemm']}" for r in rows if 'gemm' in r})))
print(f"{'L':>6} {'diffuser s':>11} {'MB':>7} {'dense s':>9} {'MB':>7} {'torch s':>9} {'MB':>7} {'dense/diff':>10} {'torch/diff':>10}")
for L in sorted({r["L"] for r in rows}):
    d, n, t = by.get(("diffuser", L)), by.get(("dense", L)), by.get(("torch_dense", L))
    f = lambda r, k: f"{r[k]:.3f}" if r else "-"
    m = lambda r: f"{r['peak_mb']:.0f}" if r else "-"
    ratio = lambda r: f"{r['seconds'] / d['seconds']:.2f}" if r and d else "-"
    print(f"{L:>6} {f(d, 'seconds'):>11} {m(d):>7} {f(n, 'seconds'):>9} {m(n):>7} {f(t, 'seconds'):>9} {m(t):>7} {ratio(n):>10} {ratio(t):>10}")
PY
rm -f "$OUT"
