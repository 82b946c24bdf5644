#!/bin/bash
# Throughput benchmark: GIN training on Tox21 (the MolGroup model: 5 layers, hidden 300, batch 64,
# "simple" features), relfm at 1 and 2 MPI ranks next to the PyTorch reference (tests/bench/torch_gin.py)
# at 1 and 2 threads, run by this one script on this machine, plus the GEMM-bound floor of an epoch and
# the GEMM backend checks of issue 6. Everything is reported as a ratio measured in the same run (this
# machine is shared and noisy).
#
# GEMM kernels: relfm picks its backend at start-up (src/tensor/gemm.hpp; its log's first line says which).
# The PyTorch peer runs Debian's OpenBLAS too; it gets the best kernel relfm_gemm_rate found correct here
# (OPENBLAS_CORETYPE, unless the caller set one), so that neither side runs a fallback kernel.
#
#   tests/bench/throughput.sh [OUT_DIR]     env: RELFM_BUILD (default build), EPOCHS (default 3)
# Needs python3-torch with OpenBLAS (installed here if missing). Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${RELFM_BUILD:-build}
OUT=${1:-runs/throughput}
EPOCHS=${EPOCHS:-3}
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

echo "== CPU: $(lscpu | sed -n 's/^Model name: *//p')"
[[ -f "$OUT/tox21.h5" ]] || "$BUILD/jobs/relfm" shard --dataset tox21 --out "$OUT/tox21.h5" --quiet

# Atoms per local batch, for the GEMM-rate measurement at the model's shapes.
read -r ROWS1 ROWS2 < <(/usr/bin/python3 - "$OUT/tox21.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1]); off = f["graph/atom_offsets"][()]; train = f["split/train"][()]
atoms = (off[train + 1] - off[train]).mean() * 64
print(int(round(atoms)), int(round(atoms / 2)))
PY
)
echo "== sgemm rate of every GEMM backend at the model's shapes ($ROWS1 and $ROWS2 rows)"
"$BUILD/tests/relfm_gemm_rate" "$ROWS1" > "$OUT/gemm.json"
"$BUILD/tests/relfm_gemm_rate" "$ROWS2" > "$OUT/gemm_half.json"

# The peer's kernel: the caller's OPENBLAS_CORETYPE, else the fastest OpenBLAS kernel that passed relfm's check.
PEER_CORE=${OPENBLAS_CORETYPE:-$(/usr/bin/python3 - "$OUT/gemm.json" <<'PY'
import json, sys
c = [x for x in json.load(open(sys.argv[1]))["candidates"] if x["key"].startswith("openblas") and x["correct"]]
print(max(c, key=lambda x: x["gflops"])["kernel"] if c else "")
PY
)}

train() {  # train NP NAME [env...]: EPOCHS epochs of one seed; throughput from results.h5 (first epoch = warm-up)
  local np=$1 name=$2; shift 2
  rm -rf "$OUT/$name"
  env "$@" mpirun -n "$np" --bind-to core "$BUILD/jobs/relfm" train jobs/gin_molgroup.toml --quiet \
    --set data.shard="$OUT/tox21.h5" --set output.dir="$OUT/$name" --set train.epochs="$EPOCHS" \
    --set train.seeds=[0] --set checkpoint.every_epochs=0 > "$OUT/$name.log" 2>&1
}
echo "== relfm, 1 rank";   train 1 relfm_np1
echo "== relfm, 2 ranks";  train 2 relfm_np2
echo "== relfm, 1 rank, OPENBLAS_CORETYPE=Prescott (OpenBLAS's generic kernel, as on a CPU it does not know)"
train 1 relfm_np1_prescott OPENBLAS_CORETYPE=Prescott
torch_env=()
[[ -n "$PEER_CORE" ]] && torch_env=(OPENBLAS_CORETYPE="$PEER_CORE")
echo "== PyTorch, 1 thread (OpenBLAS kernel ${PEER_CORE:-as detected})"
env "${torch_env[@]}" /usr/bin/python3 tests/bench/torch_gin.py --shard "$OUT/tox21.h5" --threads 1 --epochs 2 --json > "$OUT/torch_t1.json"
echo "== PyTorch, 2 threads"
env "${torch_env[@]}" /usr/bin/python3 tests/bench/torch_gin.py --shard "$OUT/tox21.h5" --threads 2 --epochs 2 --json > "$OUT/torch_t2.json"

/usr/bin/python3 - "$OUT" <<'PY'
import json, re, sys, h5py, numpy as np
out = sys.argv[1]
def relfm(name):
    f = h5py.File(f"{out}/{name}/results.h5")
    g = f["seeds/0"]
    rate = g["molecules_per_second"][1:].mean()                  # epoch 1 is warm-up
    secs = g["train_seconds"][1:].mean()
    reduce = (g["rank_allreduce_seconds"][1:] / g["rank_train_seconds"][1:]).mean()
    return rate, secs, reduce
def gemm_line(name):  # what the run recorded in its results file: backend, kernel, how it was chosen
    a = h5py.File(f"{out}/{name}/results.h5").attrs
    t = lambda k: a[k].decode() if isinstance(a[k], bytes) else str(a[k])
    if "gemm_key" not in a:
        return "gemm: (not recorded)", None
    return f"gemm: {t('gemm_backend')} ({t('gemm_kernel')}), {t('gemm_how')}, key={t('gemm_key')}", t("gemm_key")
r1, s1, _ = relfm("relfm_np1")
r2, s2, red2 = relfm("relfm_np2")
rp, _, _ = relfm("relfm_np1_prescott")
tj1, tj2 = json.load(open(f"{out}/torch_t1.json")), json.load(open(f"{out}/torch_t2.json"))
t1, t2 = tj1["molecules_per_s"], tj2["molecules_per_s"]
gj, gj2 = json.load(open(f"{out}/gemm.json")), json.load(open(f"{out}/gemm_half.json"))
def rates(j):
    return {c["key"]: (c["gflops"] if c["correct"] else 0.0) for c in j["candidates"]}
g, g2 = rates(gj), rates(gj2)
line1, key1 = gemm_line("relfm_np1")
linep, keyp = gemm_line("relfm_np1_prescott")
best_key = max(g, key=g.get)
relfm_rate = g.get(key1, 0.0)
s = h5py.File(f"{out}/tox21.h5"); off = s["graph/atom_offsets"][()]; train = s["split/train"][()]
atoms = float((off[train + 1] - off[train]).sum()); mols = len(train); tasks = s["labels"].shape[1]
h, L = 300, 5
flops = 3.0 * (L * 2 * 2.0 * atoms * h * 2 * h + 2.0 * mols * h * tasks)   # fwd + 2x bwd, all products
floor1 = flops / (g[best_key] * 1e9)
best_key2 = max(g2, key=g2.get)
floor2 = flops / 2 / (g2[best_key2] * 1e9)
print(f"\nrelfm:   {line1}")
print(f"         with OPENBLAS_CORETYPE=Prescott: {linep}")
print(f"PyTorch: OpenBLAS {tj1.get('blas_variant', '')} kernel {tj1.get('blas_core', '?')} "
      f"(OPENBLAS_CORETYPE={tj1.get('openblas_coretype_env', '') or 'unset'})")
print("GEMM backends at the model's shapes (%d rows): " % gj["rows"] +
      "; ".join(f"{c['key']} ({c['kernel']}) {c['gflops']:.1f} GFLOP/s" + ("" if c["correct"] else " WRONG RESULT")
                for c in gj["candidates"]) + "\n")
rows = [
    ("relfm, 1 rank", f"{r1:.0f} mol/s", f"{r1 / t1:.2f}x PyTorch 1 thread ({t1:.0f} mol/s), both on their best kernels", ">= 1.3x"),
    ("relfm, 2 ranks", f"{r2:.0f} mol/s", f"{r2 / t2:.2f}x PyTorch 2 threads ({t2:.0f} mol/s)", ">= 1.3x"),
    ("scaling 1 -> 2 ranks", f"{r2 / r1:.2f}x", "", ">= 1.7x"),
    ("OPENBLAS_CORETYPE=Prescott forced, 1 rank", f"{rp / r1:.2f}x", f"{rp:.0f} vs {r1:.0f} mol/s without it", ">= 0.9x"),
    ("relfm's GEMM rate / best correct backend", f"{relfm_rate / g[best_key]:.2f}x",
     f"{key1} {relfm_rate:.1f} vs {best_key} {g[best_key]:.1f} GFLOP/s", ">= 0.9x"),
    ("epoch / GEMM floor, 1 rank", f"{s1 / floor1:.2f}x",
     f"floor {floor1:.1f} s = {flops / 1e9:.0f} GFLOP at {best_key}'s {g[best_key]:.0f} GFLOP/s; epoch {s1:.1f} s", "<= 1.3x"),
    ("epoch / GEMM floor, 2 ranks", f"{s2 / floor2:.2f}x", f"floor {floor2:.1f} s at {best_key2}'s {g2[best_key2]:.0f} GFLOP/s per core", ""),
    ("gradient all-reduce, 2 ranks", f"{100 * red2:.1f}% of step time", "", "< 10%"),
]
print("| measurement | value | against | target |")
print("|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print(f"\nTox21 train split: {mols} molecules, {atoms / mols:.1f} atoms each; {flops / mols / 1e6:.0f} MFLOP per molecule per step")
PY
