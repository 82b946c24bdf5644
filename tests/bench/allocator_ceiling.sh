#!/bin/bash
# The most a tape buffer pool could save: GIN training on Tox21 at 1 rank with glibc's default allocator
# against glibc told to keep freed blocks in its heap (no mmap/munmap and no fresh page faults per large
# buffer, which is what a pool would remove). Alternating pairs; prints molecules/s of epochs 2.. per run.
#
#   tests/bench/allocator_ceiling.sh [OUT_DIR]     env: RELFM_BUILD (default build), PAIRS (default 2), EPOCHS (3)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${RELFM_BUILD:-build}
OUT=${1:-runs/allocator}
PAIRS=${PAIRS:-2}
EPOCHS=${EPOCHS:-3}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
HEAP="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295:glibc.malloc.top_pad=268435456"
[[ -f "$OUT/tox21.h5" ]] || "$BUILD/jobs/relfm" shard --dataset tox21 --out "$OUT/tox21.h5" --quiet

run() {  # run NAME [env...]
  local name=$1; shift
  rm -rf "${OUT:?}/$name"
  env RELFM_GEMM="${RELFM_GEMM:-auto}" "$@" mpirun -n 1 --bind-to core "$BUILD/jobs/relfm" train jobs/gin_molgroup.toml \
    --quiet --set data.shard="$OUT/tox21.h5" --set output.dir="$OUT/$name" --set train.epochs="$EPOCHS" \
    --set train.seeds=[0] --set checkpoint.every_epochs=0 > "$OUT/$name.log" 2>&1
  /usr/bin/python3 - "$OUT/$name/results.h5" "$name" <<'PY'
import sys, h5py
m = h5py.File(sys.argv[1])["seeds/0/molecules_per_second"][()]
print(f"{sys.argv[2]:>10}: epochs 2.. mean {m[1:].mean():.1f} molecules/s (per epoch: {', '.join(f'{x:.1f}' for x in m)})")
PY
}
echo "== CPU: $(lscpu | sed -n 's/^Model name: *//p')"
for pair in $(seq 1 "$PAIRS"); do
  run "default$pair"
  run "heap$pair" GLIBC_TUNABLES="$HEAP"
done
