#!/bin/bash
# MolGroup's meta-step cost (issue 7), every figure a ratio measured in this one run:
#   (1) relfm's meta step over a plain multi-data-set step of the same batch, per meta-gradient method
#       (central: DARTS' two extra passes; forward: one), at 2, 5 and 11 auxiliary data sets, on 1 and 2
#       MPI ranks (tests/bench/molgroup_step.cpp; the official double backward costs about 3x);
#   (2) relfm's meta step against the PyTorch reference of the same MetaGIN meta step (double backward,
#       create_graph=True; tests/bench/torch_molgroup.py) on the same sub-batches, one core each.
#
#   tests/bench/molgroup_step.sh [OUT_DIR]     env: RELFM_BUILD (default build), REPS (default 5), AUX (default "2 5 11")
# Needs python3-torch (installed here if missing). Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/require_torch.sh
BUILD=${RELFM_BUILD:-build}
OUT=${1:-runs/molgroup_step}
REPS=${REPS:-5}
AUX=${AUX:-"2 5 11"}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
for p in python3-torch python3-h5py; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" > /dev/null
done
echo "== CPU: $(lscpu | sed -n 's/^Model name: *//p')"
STEP="$BUILD/tests/relfm_molgroup_step"
: > "$OUT/relfm.jsonl"
: > "$OUT/torch.jsonl"
for m in $AUX; do
  "$STEP" dump "$m" "$OUT/batches_$m.h5" > /dev/null
  for np in 1 2; do
    for method in central forward; do
      mpirun -n "$np" --bind-to none "$STEP" "$method" "$m" "$REPS" 2>/dev/null | tail -1 | tee -a "$OUT/relfm.jsonl"
    done
  done
  # The PyTorch peer gets the OpenBLAS kernel relfm runs (OPENBLAS_CORETYPE) and one thread.
  core=$(sed -n 's/.*"gemm": "openblas (\([A-Za-z0-9]*\))".*/\1/p' "$OUT/relfm.jsonl" | tail -1)
  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$core} OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    /usr/bin/python3 tests/bench/torch_molgroup.py --batches "$OUT/batches_$m.h5" --threads 1 --reps "$REPS" | tee -a "$OUT/torch.jsonl"
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
relfm = [json.loads(l) for l in open(f"{out}/relfm.jsonl") if l.strip()]
torch = {t["auxiliaries"]: t for t in (json.loads(l) for l in open(f"{out}/torch.jsonl") if l.strip())}
print("| auxiliaries | ranks | method | plain step (s) | meta step (s) | meta / plain | PyTorch meta / relfm meta (1 core) |")
print("|---|---|---|---|---|---|---|")
for r in relfm:
    t = torch.get(r["auxiliaries"])
    vs = f"{t['meta_step_s'] / r['meta_step_s']:.2f}" if t and r["ranks"] == 1 else ""
    print(f"| {r['auxiliaries']} | {r['ranks']} | {r['method']} | {r['plain_step_s']:.3f} | {r['meta_step_s']:.3f} | {r['ratio']:.2f} | {vs} |")
for m, t in sorted(torch.items()):
    print(f"PyTorch {t['torch']} at {m} auxiliaries: plain {t['plain_step_s']:.3f} s, meta {t['meta_step_s']:.3f} s, meta / plain {t['ratio']:.2f}")
PY
