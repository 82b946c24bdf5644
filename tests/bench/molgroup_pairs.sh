#!/bin/bash
# One row of MolGroup's pairwise study (the paper's Figure 1) without Slurm: the target alone and the target
# with each auxiliary in turn, by the gin_group job (jobs/gin_group.toml), into the cells the Slurm array
# (slurm/molgroup_pairs.sbatch) writes (<OUT>/<target>__alone, <OUT>/<target>__<aux>), then gathered by
# io/analysis/molgroup_pairs.py into pairs.h5 and the heat-map. Resumable: finished cells are skipped, a
# stopped one resumes from its checkpoint (stop with `pkill -TERM -x relfm`).
#   tests/bench/molgroup_pairs.sh TARGET [AUX ...]    default AUX: the other 11 shipped MoleculeNet sets
#   env: RELFM (binary), NP (ranks per cell, default 1), SEEDS (default "0 1 2 3 4"),
#        OUT (default results/molgroup_pairs), SHARDS (default runs/shards)
set -uo pipefail
cd "$(dirname "$0")/../.."
RELFM=${RELFM:-build/jobs/relfm}
NP=${NP:-1}
SEEDS=${SEEDS:-"0 1 2 3 4"}
OUT=${OUT:-results/molgroup_pairs}
SHARDS=${SHARDS:-runs/shards}
ALL=(bbbp bace clintox freesolv esol lipo sider tox21 toxcast hiv muv qm8)
[[ $# -ge 1 ]] || { sed -n '2,10p' "$0"; exit 2; }
target=$1; shift
aux=("$@")
if [[ ${#aux[@]} -eq 0 ]]; then for d in "${ALL[@]}"; do [[ $d == "$target" ]] || aux+=("$d"); done; fi
seeds="[$(echo $SEEDS | tr ' ' ',')]"
n_seeds=$(echo $SEEDS | wc -w)

for d in "$target" "${aux[@]}"; do
  [[ -f "$SHARDS/$d.h5" ]] || mpirun -n "$NP" --bind-to none "$RELFM" shard --dataset "$d" --out "$SHARDS/$d.h5" --quiet || exit 1
done
done_seeds() {  # completed seeds in a results file (0 when absent)
  [[ -f $1 ]] || { echo 0; return; }
  /usr/bin/python3 -c 'import h5py, sys; print(int(h5py.File(sys.argv[1], "r")["summary/completed"][()].sum()))' "$1" 2>/dev/null || echo 0
}
for a in alone "${aux[@]}"; do
  cell="$OUT/${target}__$a"
  if [[ $a == alone ]]; then list="[\"$target\"]"; else list="[\"$target\", \"$a\"]"; fi
  [[ $(done_seeds "$cell/results.h5") -ge $n_seeds ]] && continue
  mkdir -p "$cell"
  echo "== $target with $a"
  mpirun -n "$NP" --bind-to none "$RELFM" train jobs/gin_group.toml --set data.shard_dir="$SHARDS" --set "data.datasets=$list" \
    --set "train.seeds=$seeds" --set output.dir="$cell" --set job.name="pair_${target}__$a" --set output.progress=lines \
    >> "$cell/train.log" 2>&1 || { echo "$cell: stopped (exit $?); run again to resume" >&2; exit 75; }
done
names=$(IFS=,; echo "$target,${aux[*]}")
/usr/bin/python3 io/analysis/molgroup_pairs.py "$OUT" --datasets "$names" --targets "$target" --out "$OUT/${target}_pairs.h5" --png "$OUT/${target}_heatmap.png"
