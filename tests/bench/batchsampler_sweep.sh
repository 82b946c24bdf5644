#!/bin/bash
# Does any BatchSampler setting beat GraphCL's uniform batches? (issue 8: the paper's per-data-set M, K and
# alpha are not in the released code, research/batchsampler.md §2.) Runs tests/bench/graphcl_accuracy.sh once
# per configuration below on the cheap TU sets, seeds 0-9, and prints each configuration's mean ± std and its
# difference from uniform with two standard errors. Every configuration is trained by the same binary on
# the same rank count, so the differences are the sampler's. Resumable like graphcl_accuracy.sh.
#   tests/bench/batchsampler_sweep.sh   env: NP (ranks, default 1), DATASETS (default "MUTAG PROTEINS
#        IMDB-BINARY IMDB-MULTI"), SEEDS (default 0-9), CONFIGS (names below, default all), OUT (default
#        runs/batchsampler_sweep), RESULTS (default results/batchsampler_sweep: the per-configuration CSVs),
#        RELFM_GEMM (default eigen)
set -euo pipefail
cd "$(dirname "$0")/../.."
export NP=${NP:-1} DATASETS=${DATASETS:-"MUTAG PROTEINS IMDB-BINARY IMDB-MULTI"} SEEDS=${SEEDS:-"0 1 2 3 4 5 6 7 8 9"}
OUT=${OUT:-runs/batchsampler_sweep}
# One GEMM backend for every cell: the start-up probe can flip between close candidates on a busy machine,
# and each backend rounds differently.
export RELFM_GEMM=${RELFM_GEMM:-eigen}
RESULTS=${RESULTS:-results/batchsampler_sweep}
# name | sampler | extra job keys. M is the hardness knob (M = K: uniform batches; M = N: the kNN sampler),
# alpha the walk's locality (the official schedule 0.2 - 0.02 per epoch, floor 0.05).
declare -A SAMPLER=([uniform]=uniform [default]=batchsampler [m2k]=batchsampler [m5k]=batchsampler [m20k]=batchsampler
                    [alpha05]=batchsampler [alpha50]=batchsampler)
# M as a multiple of K (K = N / 50 clamped to [5, 100], the job's default; M = 10 K is the default).
declare -A RATIO=([m2k]=2 [m5k]=5 [m20k]=20)
declare -A KEYS=([alpha05]="--set sampler.restart=0.05 --set sampler.restart_schedule=fixed"
                 [alpha50]="--set sampler.restart=0.5 --set sampler.restart_schedule=fixed")
read -r -a CONFIGS <<< "${CONFIGS:-uniform default m2k m5k m20k alpha05 alpha50}"
graphs() {  # the number of graphs of a TU data set (either format)
  local dir=${TU:-../shared/data/tu}/$1
  if [[ -f $dir/${1}_graph_labels.txt ]]; then wc -l < "$dir/${1}_graph_labels.txt"; else zcat -f "$dir"/*.txt* | head -1; fi
}
mkdir -p "$RESULTS"
for c in "${CONFIGS[@]}"; do
  [[ -n ${SAMPLER[$c]:-} ]] || { echo "batchsampler_sweep.sh: unknown configuration $c" >&2; exit 2; }
  echo "== $c"
  for d in $DATASETS; do
    keys=${KEYS[$c]:-}
    if [[ -n ${RATIO[$c]:-} ]]; then
      n=$(graphs "$d"); k=$(( n / 50 < 5 ? 5 : (n / 50 > 100 ? 100 : n / 50) )); m=$(( RATIO[$c] * k < n - 1 ? RATIO[$c] * k : n - 1 ))
      keys="--set sampler.candidates=$m"
    fi
    DATASETS=$d SAMPLERS=${SAMPLER[$c]} EXTRA="$keys" TABLE="$RESULTS/$c.csv" \
      tests/bench/graphcl_accuracy.sh "$OUT/$c" > /dev/null
  done
done
/usr/bin/python3 - "$RESULTS" "${CONFIGS[@]}" <<'PY'
import csv, os, sys
import numpy as np
results, configs = sys.argv[1], sys.argv[2:]
acc = {}
for c in configs:
    path = os.path.join(results, f"{c}.csv")
    if os.path.exists(path):
        for r in csv.DictReader(open(path)):
            acc.setdefault((r["dataset"], c), {})[int(r["seed"])] = float(r["svm_accuracy"])
datasets = sorted({d for d, _ in acc})
print("| configuration | " + " | ".join(datasets) + " | sets >= uniform |")
print("|---" * (len(datasets) + 2) + "|")
for c in configs:
    cells, wins = [], 0
    for d in datasets:
        a, u = acc.get((d, c), {}), acc.get((d, "uniform"), {})
        seeds = sorted(set(a) & set(u))
        if not seeds:
            cells.append("-")
            continue
        x, y = np.array([a[s] for s in seeds]), np.array([u[s] for s in seeds])
        cell = f"{x.mean():.2f}±{x.std():.2f}"
        if c != "uniform":
            diff = x.mean() - y.mean()
            two_se = 2 * np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y)) if len(x) > 1 else float("nan")
            cell += f" ({diff:+.2f}, 2 s.e. {two_se:.2f})"
            wins += diff >= 0
        cells.append(cell + f" [{len(seeds)}]")
    print(f"| {c} | " + " | ".join(cells) + f" | {wins if c != 'uniform' else '-'} |")
PY
