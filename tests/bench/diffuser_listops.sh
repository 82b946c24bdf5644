#!/bin/bash
# Issue 9's accuracy benchmark: Diffuser on LRA's ListOps (jobs/diffuser_listops.toml: 2 layers x 64, 2
# heads, the official pattern and diffusion), the same model without diffusion (one hop, alpha 0: plain
# sparse attention, the ablation), on 2 ranks, seed 0 (RUNS may add "perstride": the random keys shared by each
# band stride, attention.random_layout = "per_stride", and "dense"); then the table (test accuracy at the best validation
# epoch, steps, wall time, parameters) next to LRA's best (Reformer 37.27, Transformer 36.37).
#
#   tests/bench/diffuser_listops.sh [OUT_DIR]   env: RELFM (binary), NP (ranks, default 2), EPOCHS (default 2),
#                                               STAGE (train | table | all; default all), RUNS ("diffuser onehop"),
#                                               GRAPH_CACHE_MB (attention graphs kept, default 4096: most of ListOps' lengths)
# Long (hours on 2 cores): every run checkpoints, and rerunning the script resumes it (stop it with
# `pkill -TERM -x relfm`: the ranks checkpoint after their step and exit 75). results.h5 and the logs go to
# OUT_DIR (default results/diffuser_listops, committed as they come; checkpoints are not).
set -euo pipefail
cd "$(dirname "$0")/../.."
RELFM=${RELFM:-build/jobs/relfm}
OUT=${1:-results/diffuser_listops}
NP=${NP:-2}
EPOCHS=${EPOCHS:-2}
STAGE=${STAGE:-all}
read -r -a RUNS <<< "${RUNS:-diffuser onehop}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
SHARD=${SHARD:-runs/listops.h5}
mkdir -p "$(dirname "$SHARD")" "$OUT"
[[ -f $SHARD ]] || "$RELFM" sequences --listops --out "$SHARD"

if [[ $STAGE == all || $STAGE == train ]]; then
  for run in "${RUNS[@]}"; do
    extra=()
    [[ $run == onehop ]] && extra=(--set attention.hops=1 --set attention.alpha=0)
    [[ $run == dense ]] && extra=(--set attention.kind='"dense"')
    [[ $run == perstride ]] && extra=(--set attention.random_layout='"per_stride"')
    mkdir -p "$OUT/$run"
    echo "== $run"
    mpirun -n "$NP" --bind-to none "$RELFM" train jobs/diffuser_listops.toml --set data.shard="$SHARD" \
      --set train.epochs="$EPOCHS" --set output.dir="$OUT/$run" --set job.name="listops_$run" "${extra[@]}" \
      --set attention.graph_cache_mb="${GRAPH_CACHE_MB:-4096}" \
      >> "$OUT/$run/train.log" 2>&1 || { rc=$?; echo "run stopped (exit $rc): see $OUT/$run/train.log"; exit $rc; }
  done
fi

[[ $STAGE == all || $STAGE == table ]] || exit 0
/usr/bin/python3 - "$OUT" <<'PY'
import os, sys
import h5py, numpy as np
out = sys.argv[1]
print(f"{'run':<10} {'epochs':>6} {'test acc. at best valid':>24} {'valid':>7} {'wall h':>7} {'beyond one hop (last)':>24}  cpu")
for run in sorted(os.listdir(out)):
    path = os.path.join(out, run, "results.h5")
    if not os.path.exists(path):
        continue
    with h5py.File(path, "r") as f:
        s = f["seeds/0"]
        valid, test = s["valid_accuracy"][()], s["test_accuracy"][()]
        best = int(np.argmax(valid))
        hours = float(np.nansum(s["train_seconds"][()]) + np.nansum(s["eval_seconds"][()])) / 3600
        beyond = [f"{s[k][()][-1]:.2f}" for k in sorted(s) if k.startswith("beyond_one_hop_layer")]
        cpu = f.attrs.get("cpu", b"?")
        cpu = cpu.decode() if isinstance(cpu, bytes) else cpu
        print(f"{run:<10} {len(valid):>6} {100 * test[best]:>24.2f} {100 * valid[best]:>7.2f} {hours:>7.2f} {', '.join(beyond):>24}  {cpu}")
print("LRA (Tay et al. 2020): Reformer 37.27, Transformer 36.37, BigBird 36.05, Longformer 35.63")
PY
