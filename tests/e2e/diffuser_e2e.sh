#!/bin/bash
# The diffuser job kind: `relfm sequences` makes a small ListOps shard (same seed, same file at any rank
# count), `relfm inspect` summarises it; Diffuser (official and per-stride random keys), the dense baseline
# and the one-hop ablation train and report accuracy at the best validation epoch; the bad inputs fail once,
# on every rank, naming the file and line or the key.
source "$(dirname "$0")/lib.sh" "$@"

SMALL=(--listops --train 48 --valid 16 --test 16 --min-length 20 --max-length 150 --max-depth 6)
run "$NP" sequences "${SMALL[@]}" --out lo.h5 --quiet || fail "sequences"
run 1 sequences "${SMALL[@]}" --out lo1.h5 --quiet || fail "sequences on one rank"
"$PY" - <<'PY' || fail "the shard"
import h5py, numpy as np
with h5py.File("lo.h5") as a, h5py.File("lo1.h5") as b:
    assert a.attrs["format"] == b"relfm.sequences" or a.attrs["format"] == "relfm.sequences"
    for split, n in (("train", 48), ("valid", 16), ("test", 16)):
        for k in ("tokens", "offsets", "labels"):
            assert np.array_equal(a[f"{split}/{k}"][()], b[f"{split}/{k}"][()]), (split, k)
        off = a[f"{split}/offsets"][()]
        assert len(off) == n + 1 and np.all(np.diff(off) > 20) and np.all(np.diff(off) < 150)
        assert set(a[f"{split}/labels"][()]) <= set(range(10))
PY
inspect_has lo.h5 "sequence shard" || fail "inspect"

JOB="$SOURCE_DIR/jobs/diffuser_listops.toml"
TRAIN=(--set data.shard=lo.h5 --set model.dim=16 --set model.ffn=32 --set train.batch_size=16 --set train.epochs=2
       --set train.lr=1e-3 --set train.warmup_steps=2 --set attention.block=16 --set attention.stride=8
       --set attention.random_mode='"fixed"' --set attention.num_random=4 --set attention.num_global=2)
for variant in diffuser dense onehop perstride; do
  extra=()
  [[ $variant == dense ]] && extra=(--set attention.kind='"dense"')
  [[ $variant == onehop ]] && extra=(--set attention.hops=1 --set attention.alpha=0)
  [[ $variant == perstride ]] && extra=(--set attention.random_layout='"per_stride"')
  run "$NP" train "$JOB" "${TRAIN[@]}" "${extra[@]}" --set output.dir=$variant > $variant.log 2>&1 || { cat $variant.log; fail "$variant run"; }
  grep -q "test accuracy at the best validation epoch" $variant.log || { cat $variant.log; fail "$variant: no summary"; }
done
"$PY" - <<'PY' || fail "results"
import h5py, numpy as np
for v in ("diffuser", "dense", "onehop", "perstride"):
    with h5py.File(f"{v}/results.h5") as f:
        s = f["seeds/0"]
        acc = s["test_accuracy"][()]
        assert len(acc) == 2 and np.all((acc >= 0) & (acc <= 1)), (v, acc)
        assert np.all(np.isfinite(s["train_loss"][()])), v
        beyond = [k for k in s if k.startswith("beyond_one_hop_layer")]
        if v == "dense":
            assert not beyond
        else:  # one hop without teleport keeps every query on its own keys; five hops reach beyond them
            assert sorted(beyond) == ["beyond_one_hop_layer0", "beyond_one_hop_layer1"], beyond
            share = np.concatenate([s[k][()] for k in beyond])
            assert (np.all(share < 1e-6) if v == "onehop" else np.all((share > 0.05) & (share < 1))), (v, share)
PY
# relfm eval: the checkpoint (the last epoch's model) scores the test split as the last epoch did, on this
# rank count and on one rank; its predictions file holds every test sequence's logits in order.
run "$NP" eval diffuser/checkpoint.h5 --split test --predictions pred.h5 > eval.log 2>&1 || { cat eval.log; fail "eval"; }
run 1 eval diffuser/checkpoint.h5 --split valid > eval1.log 2>&1 || { cat eval1.log; fail "eval on one rank"; }
"$PY" - <<'PY' || { cat eval.log eval1.log; fail "eval: scores or predictions"; }
import re, h5py, numpy as np
r = h5py.File("diffuser/results.h5")["seeds/0"]
test, valid = r["test_accuracy"][-1], r["valid_accuracy"][-1]
printed = float(re.search(r"test accuracy = ([0-9.]+)", open("eval.log").read()).group(1))
printed1 = float(re.search(r"valid accuracy = ([0-9.]+)", open("eval1.log").read()).group(1))
assert abs(printed - test) < 1e-4 and abs(printed1 - valid) < 1e-4, (printed, test, printed1, valid)
with h5py.File("pred.h5") as p, h5py.File("lo.h5") as shard:
    assert p.attrs["format"] in (b"relfm.predictions", "relfm.predictions")
    n = len(shard["test/labels"][()])
    assert list(p["ids"][()]) == list(range(n))
    logits, labels = p["predictions"][()], p["labels"][()][:, 0]
    assert logits.shape == (n, 10) and np.array_equal(labels, shard["test/labels"][()])
    assert abs(np.mean(np.argmax(logits, axis=1) == labels) - test) < 1e-9 and abs(p.attrs["value"] - test) < 1e-9
PY
expect_failure 2 "--split must be train, valid or test" "$NP" eval diffuser/checkpoint.h5 --split dev

# Sequence parallelism: each batch's tokens split over the ranks (contiguous and METIS) trains as one rank
# does (float rounding aside); at 4 ranks also 2-D: 2 groups of 2 train as 2 data-parallel ranks do.
if (( NP > 1 )); then
  run 1 train "$JOB" "${TRAIN[@]}" --set output.dir=ref_1 > ref.log 2>&1 || { cat ref.log; fail "one-rank run"; }
  splits=("$NP $NP contiguous 1" "$NP $NP metis 1")
  if (( NP == 4 )); then
    run 2 train "$JOB" "${TRAIN[@]}" --set output.dir=ref_2 > ref.log 2>&1 || { cat ref.log; fail "two-rank run"; }
    splits+=("4 2 contiguous 2")
  fi
  for s in "${splits[@]}"; do
    read -r np seq how ref <<< "$s"
    run "$np" train "$JOB" "${TRAIN[@]}" --set parallel.sequence=$seq --set parallel.sequence_split="\"$how\"" \
      --set output.dir=seq_${seq}_$how > seq.log 2>&1 || { cat seq.log; fail "sequence parallel $s"; }
    grep -q "each batch split over $seq ranks ($how)" seq.log || { cat seq.log; fail "sequence parallel $s: headline"; }
    # Its checkpoint scores the same split over its ranks and unsplit on one rank.
    run "$np" eval seq_${seq}_$how/checkpoint.h5 > e_split.log 2>&1 || { cat e_split.log; fail "eval, split ($s)"; }
    run 1 eval seq_${seq}_$how/checkpoint.h5 > e_one.log 2>&1 || { cat e_one.log; fail "eval on one rank ($s)"; }
    grep -q "evaluating without splitting sequences" e_one.log || { cat e_one.log; fail "eval on one rank: no notice"; }
    [[ "$(grep -o 'test accuracy = [0-9.]*' e_split.log)" == "$(grep -o 'test accuracy = [0-9.]*' e_one.log)" ]] \
      || { cat e_split.log e_one.log; fail "eval split and unsplit differ ($s)"; }
    "$PY" - seq_${seq}_$how/results.h5 ref_$ref/results.h5 <<'PY' || fail "sequence parallel $s: results differ"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    for key in ("train_loss", "valid_accuracy", "test_accuracy"):
        x, y = a[f"seeds/0/{key}"][()], b[f"seeds/0/{key}"][()]
        assert np.allclose(x, y, rtol=2e-4, atol=0), (key, x, y)
PY
  done
  expect_failure 2 "needs attention.kind" "$NP" train "$JOB" "${TRAIN[@]}" --set attention.kind='"dense"' \
    --set parallel.sequence=$NP --set output.dir=o5
fi

"$PY" "$SOURCE_DIR/io/analysis/plot_results.py" diffuser/results.h5 --out curves.png > /dev/null || fail "plot"
[[ -s curves.png ]] || fail "no plot"

# Bad inputs.
printf '1\tok\nno label here\n' > t.tsv
printf '0\tfine\n' > v.tsv
expect_failure 2 "t.tsv, line 2: no label" "$NP" sequences --text-tsv t.tsv v.tsv v.tsv --out text.h5
printf '1\tfar too long a line\n' > long.tsv
expect_failure 2 "more than the maximum length 8" "$NP" sequences --text-tsv long.tsv v.tsv v.tsv --max-tokens 8 --out text.h5
run "$NP" sequences --text-tsv long.tsv v.tsv v.tsv --max-tokens 8 --truncate --out text.h5 --quiet || fail "truncation"
[[ ! -e bad.h5 ]] || fail "a failed run left a file"
expect_failure 2 "'absent.h5' does not exist" "$NP" train "$JOB" --set data.shard=absent.h5 --set output.dir=o1
expect_failure 2 "model.heads" "$NP" train "$JOB" "${TRAIN[@]}" --set model.heads=3 --set output.dir=o2
expect_failure 2 "attention.stride" "$NP" train "$JOB" "${TRAIN[@]}" --set attention.stride=40 --set output.dir=o3
expect_failure 2 "parallel.sequence = 3 does not divide the $NP ranks" "$NP" train "$JOB" "${TRAIN[@]}" --set parallel.sequence=3 --set output.dir=o4
echo "PASS diffuser_e2e np=$NP"
