#!/bin/bash
# Throughput benchmark: GIN training on Tox21 (the MolGroup model: 5 layers, hidden 300, batch 64,
# "simple" features), relfm at 1 and 2 MPI ranks next to the PyTorch reference (tests/bench/torch_gin.py)
# at 1 and 2 threads, run by this one script on this machine, plus the GEMM-bound floor of an epoch.
# Everything is reported as a ratio measured in the same run (this machine is shared and noisy).
#
#   tests/bench/throughput.sh [OUT_DIR]     env: RELFM_BUILD (default build), EPOCHS (default 4)
# Needs python3-torch with OpenBLAS (installed here if missing). Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${RELFM_BUILD:-build}
OUT=${1:-runs/throughput}
EPOCHS=${EPOCHS:-4}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none

need=()
for p in python3-torch libopenblas0-pthread libopenblas0-openmp python3-h5py; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if (( ${#need[@]} )); then
  echo "== installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
fi

[[ -f "$OUT/tox21.h5" ]] || "$BUILD/jobs/relfm" shard --dataset tox21 --out "$OUT/tox21.h5" --quiet

train() {  # train NP: EPOCHS epochs of one seed; throughput from results.h5 (first epoch = warm-up)
  rm -rf "$OUT/relfm_np$1"
  mpirun -n "$1" --bind-to core "$BUILD/jobs/relfm" train jobs/gin_molgroup.toml --quiet \
    --set data.shard="$OUT/tox21.h5" --set output.dir="$OUT/relfm_np$1" --set train.epochs="$EPOCHS" \
    --set train.seeds=[0] --set checkpoint.every_epochs=0 > "$OUT/relfm_np$1.log" 2>&1
}
echo "== relfm, 1 rank";   train 1
echo "== relfm, 2 ranks";  train 2
echo "== PyTorch, 1 thread";  /usr/bin/python3 tests/bench/torch_gin.py --shard "$OUT/tox21.h5" --threads 1 --epochs 2 --json > "$OUT/torch_t1.json"
echo "== PyTorch, 2 threads"; /usr/bin/python3 tests/bench/torch_gin.py --shard "$OUT/tox21.h5" --threads 2 --epochs 2 --json > "$OUT/torch_t2.json"

# Atoms per local batch, for the GEMM-rate measurement at the model's shapes.
read -r ROWS1 ROWS2 < <(/usr/bin/python3 - "$OUT/tox21.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1]); off = f["graph/atom_offsets"][()]; train = f["split/train"][()]
atoms = (off[train + 1] - off[train]).mean() * 64
print(int(round(atoms)), int(round(atoms / 2)))
PY
)
echo "== sgemm rate at the model's shapes ($ROWS1 and $ROWS2 rows)"
"$BUILD/tests/relfm_gemm_rate_eigen" "$ROWS1" > "$OUT/gemm_eigen.json"
"$BUILD/tests/relfm_gemm_rate_openblas" "$ROWS1" > "$OUT/gemm_openblas.json"
"$BUILD/tests/relfm_gemm_rate_eigen" "$ROWS2" > "$OUT/gemm_eigen_half.json"
"$BUILD/tests/relfm_gemm_rate_openblas" "$ROWS2" > "$OUT/gemm_openblas_half.json"

/usr/bin/python3 - "$OUT" <<'PY'
import json, sys, h5py, numpy as np
out = sys.argv[1]
def relfm(np_):
    f = h5py.File(f"{out}/relfm_np{np_}/results.h5")
    g = f["seeds/0"]
    rate = g["molecules_per_second"][1:].mean()                  # epoch 1 is warm-up
    secs = g["train_seconds"][1:].mean()
    reduce = (g["rank_allreduce_seconds"][1:] / g["rank_train_seconds"][1:]).mean()
    return rate, secs, reduce
r1, s1, _ = relfm(1)
r2, s2, red2 = relfm(2)
t1 = json.load(open(f"{out}/torch_t1.json"))["molecules_per_s"]
t2 = json.load(open(f"{out}/torch_t2.json"))["molecules_per_s"]
ge, gb = json.load(open(f"{out}/gemm_eigen.json")), json.load(open(f"{out}/gemm_openblas.json"))
ge2, gb2 = json.load(open(f"{out}/gemm_eigen_half.json")), json.load(open(f"{out}/gemm_openblas_half.json"))
s = h5py.File(f"{out}/tox21.h5"); off = s["graph/atom_offsets"][()]; train = s["split/train"][()]
atoms = float((off[train + 1] - off[train]).sum()); mols = len(train); tasks = s["labels"].shape[1]
h, L = 300, 5
flops = 3.0 * (L * 2 * 2.0 * atoms * h * 2 * h + 2.0 * mols * h * tasks)   # fwd + 2x bwd, all products
floor_eigen = flops / (ge["gin_layer_gflops"] * 1e9)
floor_blas = flops / (gb["gin_layer_gflops"] * 1e9)
floor_eigen2 = flops / 2 / (ge2["gin_layer_gflops"] * 1e9)
rows = [
    ("relfm, 1 rank", f"{r1:.0f} mol/s", f"{r1 / t1:.2f}x PyTorch 1 thread ({t1:.0f} mol/s)", ">= 1.3x"),
    ("relfm, 2 ranks", f"{r2:.0f} mol/s", f"{r2 / t2:.2f}x PyTorch 2 threads ({t2:.0f} mol/s)", ">= 1.3x"),
    ("scaling 1 -> 2 ranks", f"{r2 / r1:.2f}x", "", ">= 1.7x"),
    ("epoch / GEMM floor, 1 rank", f"{s1 / floor_eigen:.2f}x",
     f"floor {floor_eigen:.1f} s = {flops / 1e9:.0f} GFLOP at Eigen's {ge['gin_layer_gflops']:.0f} GFLOP/s; epoch {s1:.1f} s", "<= 1.3x"),
    ("epoch / GEMM floor, 2 ranks", f"{s2 / floor_eigen2:.2f}x", f"floor {floor_eigen2:.1f} s at Eigen's {ge2['gin_layer_gflops']:.0f} GFLOP/s per core", ""),
    ("epoch / OpenBLAS GEMM floor, 1 rank", f"{s1 / floor_blas:.2f}x", f"OpenBLAS (what relfm uses) {gb['gin_layer_gflops']:.0f} GFLOP/s", "(stricter)"),
    ("gradient all-reduce, 2 ranks", f"{100 * red2:.1f}% of step time", "", "< 10%"),
]
print("| measurement | value | against | target |")
print("|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print(f"\nsgemm 1024^3: Eigen {ge['square1024_gflops']:.0f} GFLOP/s, OpenBLAS {gb['square1024_gflops']:.0f} GFLOP/s; "
      f"Tox21 train split: {mols} molecules, {atoms / mols:.1f} atoms each; {flops / mols / 1e6:.0f} MFLOP per molecule per step")
PY
