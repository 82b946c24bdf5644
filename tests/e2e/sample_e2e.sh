#!/bin/bash
# `relfm sample`: embeddings in, batches out (io/batches.hpp). The same seed gives the same batches on 1
# and NP ranks (distributed walks included); every batch holds distinct instances, an epoch has
# ceil(N / B) batches, kNN and BatchSampler batches are purer than uniform ones on clustered data; the
# inspect summary; the documented PyTorch example; and the bad inputs.
source "$(dirname "$0")/lib.sh" "$@"

"$PY" - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(1)
n, d, k = 1500, 16, 6
centres = rng.normal(size=(k, d))
labels = rng.integers(0, k, size=n)
with h5py.File("emb.h5", "w") as f:
    f["embeddings"] = (centres[labels] + 0.4 * rng.normal(size=(n, d))).astype(np.float32)
    f["labels"] = labels
    f["flat"] = np.zeros(n, dtype=np.float32)
    bad = (centres[labels] + 0.4 * rng.normal(size=(n, d))).astype(np.float32)
    bad[77, 3] = np.nan
    f["with_nan"] = bad
PY
S=(sample --embeddings emb.h5 --labels labels --batch-size 100 --epochs 3 --candidates 150 --neighbours 15)
for kind in uniform batchsampler knn communities; do
  run 1 "${S[@]}" --kind $kind --out one_$kind.h5 > one_$kind.log 2>&1 || { cat one_$kind.log; fail "$kind on 1 rank"; }
  run "$NP" "${S[@]}" --kind $kind --walk-engine distributed --out np_$kind.h5 > np_$kind.log 2>&1 || { cat np_$kind.log; fail "$kind on $NP ranks"; }
  h5 same one_$kind.h5 np_$kind.h5 / > /dev/null 2>&1 || "$PY" - $kind <<'PY' || fail "$kind: batches differ between 1 and $NP ranks"
import h5py, sys
a, b = h5py.File(f"one_{sys.argv[1]}.h5"), h5py.File(f"np_{sys.argv[1]}.h5")
for k in ("offsets", "instances", "epoch", "from_graph", "visits", "mean_cosine", "same_label_share"):
    assert a[k][()].tobytes() == b[k][()].tobytes(), k
PY
done
"$PY" - <<'PY' || fail "batch files"
import h5py, numpy as np
share = {}
for kind in ("uniform", "batchsampler", "knn", "communities"):
    with h5py.File(f"np_{kind}.h5") as f:
        assert f.attrs["format"] in ("relfm.batches", b"relfm.batches")
        off, inst, ep = f["offsets"][()], f["instances"][()], f["epoch"][()]
        assert np.array_equal(np.bincount(ep), [15, 15, 15]), np.bincount(ep)   # ceil(1500 / 100) per epoch
        for b in range(len(ep)):
            members = inst[off[b]:off[b + 1]]
            assert len(set(members)) == len(members) and members.min() >= 0 and members.max() < 1500
        assert f["visits"][()].sum() == len(inst)
        share[kind] = np.nanmean(f["same_label_share"][()][f["from_graph"][()] == 1]) if kind != "uniform" else np.nanmean(f["same_label_share"][()])
print(share)
assert share["uniform"] < 0.25 and share["batchsampler"] > 2 * share["uniform"] and share["knn"] > share["batchsampler"], share
PY
inspect_has np_batchsampler.h5 "batches from sampler 'batchsampler'" || fail "inspect summary"
run 1 sample --embeddings emb.h5 --out graph.h5 --write-graph --candidates 150 --neighbours 15 > /dev/null
"$PY" -c "import h5py; assert h5py.File('graph.h5')['neighbours'].shape == (1500, 15)" || fail "--write-graph"

# The documented PyTorch example, where Debian's python3-torch is installed.
if "$PY" -c "import torch" 2> /dev/null; then
  "$PY" "$SOURCE_DIR/examples/relfm_batch_sampler.py" "$RELFM" > example.log 2>&1 || { cat example.log; fail "the PyTorch example"; }
  grep -q "epoch 1: 16 batches" example.log || { cat example.log; fail "the example's output"; }
fi

expect_failure 2 "no dataset 'vectors'" "$NP" sample --embeddings emb.h5 --dataset vectors --out x.h5
expect_failure 2 "must be a 2-D [N, d] dataset" "$NP" sample --embeddings emb.h5 --dataset flat --out x.h5
expect_failure 2 "row 77 holds a non-finite value" "$NP" sample --embeddings emb.h5 --dataset with_nan --out x.h5
expect_failure 2 "sampler.kind 'random'" "$NP" sample --embeddings emb.h5 --kind random --out x.h5
expect_failure 2 "neighbours (K) = 2000 must be below the 1500 instances" "$NP" sample --embeddings emb.h5 --neighbours 2000 --candidates 3000 --out x.h5
[[ ! -e x.h5 ]] || fail "a failed run left its output"
echo "PASS sample_e2e np=$NP"
