#!/bin/bash
# The MolGroup grouping job end to end (issue 7): gates and the selected group bit-identical at 1 and NP
# ranks; a run stopped in the middle of a grouping round and resumed equals an uninterrupted run; the
# bad inputs (unknown data set, a target without a validation split, an auxiliary set without any
# labelled molecule, a gate that turns NaN) stop every rank with one message and keep the last good
# checkpoint.
source "$(dirname "$0")/lib.sh" "$@"

mkdir -p shards
for d in freesolv bace clintox bbbp; do shard "$d" "shards/$d.h5"; done
# Small and quick: 2 rounds of 2 epochs (the first a warm-up); threshold 0.9 keeps some candidates, so
# the second round runs on a smaller group. FreeSolv's 513 training molecules x 4 data sets = 17 steps.
ARGS=(train "$SOURCE_DIR/jobs/molgroup_grouping.toml" --set data.shard_dir=shards
      --set 'data.datasets=["freesolv", "bace", "clintox", "bbbp"]' "${TINY[@]}"
      --set train.rounds=2 --set train.epochs=2 --set grouping.threshold=0.9)
STEPS_ROUND1=34

run 1 "${ARGS[@]}" --set output.dir=one > one.log 2>&1 || { cat one.log; fail "one-rank run"; }
"$PY" - <<'PY' || fail "round records"
import h5py, numpy as np
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
f = h5py.File("one/results.h5")
assert [text(s) for s in f["summary/run"][()]] == ["round1", "round2"], f["summary/run"][()]
r1, r2 = f["seeds/round1"], f["seeds/round2"]
g = r1["gates"][()]
assert g.shape == (34, 4), g.shape
assert [text(c) for c in r1["gates"].attrs["columns"]] == ["freesolv", "bace", "clintox", "bbbp"]
assert np.isnan(g[:, 0]).all() and np.isnan(g[:17, 1:]).all(), "the target and the warm-up epoch have no gates"
assert np.isfinite(g[17:, 1:]).any() and ((g[17:, 1:] > 0) & (g[17:, 1:] < 1))[np.isfinite(g[17:, 1:])].all()
# The round's score is the mean gate of its last epoch; the largest one went (forced drop at 0.9, or over it).
last = np.nanmean(g[17:, 1:], axis=0)
assert abs(r1["gate_bace"][-1] - last[0]) < 1e-12
dropped = text(r1.attrs["dropped"])
assert dropped == ["bace", "clintox", "bbbp"][int(np.argmax(last))], (dropped, last)
assert text(r2.attrs["datasets"]).startswith("freesolv") and dropped not in text(r2.attrs["datasets"])
assert text(f.attrs["selected_group"]) == text(r2.attrs["kept"])
PY
grep -q '^datasets = \["freesolv"' one/group.toml || { cat one/group.toml; fail "group.toml"; }
# Without its checkpoint a grouping cannot keep its completed rounds (each trains the previous one's
# survivors): refused, the results left as they are.
cp -r one one_lost; rm one_lost/checkpoint.h5
expect_failure 2 "depend on each other" 1 "${ARGS[@]}" --set output.dir=one_lost
cmp -s one/results.h5 one_lost/results.h5 || fail "the refused run changed the results"
inspect_has one/results.h5 "selected_group" || fail "inspect shows no selected group"

# grouping.forced_drop = false: with every candidate under threshold 1 the first round keeps them all,
# which ends the grouping (a second round would repeat it); the official rule would have dropped one.
run 1 "${ARGS[@]}" --set grouping.threshold=1 --set grouping.forced_drop=false --set output.dir=converged > converged.log 2>&1 ||
  { cat converged.log; fail "forced_drop=false run"; }
"$PY" - <<'PY' || fail "forced_drop=false"
import h5py
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
f = h5py.File("converged/results.h5")
assert [text(s) for s in f["summary/run"][()]] == ["round1"], f["summary/run"][()]
r1 = f["seeds/round1"]
assert text(r1.attrs["dropped"]) == "" and text(r1.attrs["forced_drop"]) == "no" and text(r1.attrs["converged"]) == "yes"
assert text(f.attrs["selected_group"]) == "bace, clintox, bbbp", f.attrs["selected_group"]
PY
grep -q '^datasets = \["freesolv", "bace", "clintox", "bbbp"\]' converged/group.toml || { cat converged/group.toml; fail "converged group.toml"; }

# grouping.top_k = 2 on the same round: the selected group is the target and the two survivors with the
# lowest round-1 scores (read back from the round's own record), in the round's order.
run 1 "${ARGS[@]}" --set grouping.threshold=1 --set grouping.forced_drop=false --set grouping.top_k=2 \
  --set output.dir=topk > topk.log 2>&1 || { cat topk.log; fail "top_k run"; }
"$PY" - <<'PY' || fail "grouping.top_k"
import h5py
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
f = h5py.File("topk/results.h5")
scores = dict(kv.split("=") for kv in text(f["seeds/round1"].attrs["scores"]).split(", "))
assert list(scores) == ["bace", "clintox", "bbbp"], scores
best = sorted(scores, key=lambda n: float(scores[n]))[:2]
expected = ", ".join(n for n in scores if n in best)
assert text(f.attrs["survivors"]) == "bace, clintox, bbbp", f.attrs["survivors"]
assert text(f.attrs["selected_group"]) == expected, (f.attrs["selected_group"], scores)
with open("topk/group.toml") as g:
    line = [l for l in g if l.startswith("datasets = ")][0]
assert line.strip() == "datasets = " + str(["freesolv"] + expected.split(", ")).replace("'", '"'), line
PY
"$PY" "$SOURCE_DIR/io/analysis/molgroup_report.py" topk/results.h5 --out topk_report > topk_report.log 2>&1 ||
  { cat topk_report.log; fail "top_k report"; }
grep -q "grouping.top_k kept the 2 best of the survivors bace, clintox, bbbp" topk_report/report.md ||
  { cat topk_report/report.md; fail "the report does not say what top_k cut"; }

if (( NP > 1 )); then
  run "$NP" "${ARGS[@]}" --set output.dir=many > many.log 2>&1 || { cat many.log; fail "$NP-rank run"; }
  "$PY" - <<'PY' || fail "gates differ between 1 and $NP ranks"
import h5py
a, b = h5py.File("one/results.h5"), h5py.File("many/results.h5")
for r in ("round1", "round2"):
    for k in ("gates", "train_loss", "test_rmse", "valid_rmse"):
        assert a[f"seeds/{r}/{k}"][()].tobytes() == b[f"seeds/{r}/{k}"][()].tobytes(), (r, k)
assert a.attrs["selected_group"] == b.attrs["selected_group"]
PY
  cmp one/group.toml many/group.toml || fail "group.toml differs"
fi

# The evaluation job trains the selected group (group.toml) with a shared GIN; the same numbers at 1 and
# NP ranks; the chemist's report renders from the grouping results.
group=$(sed -n 's/^datasets = //p' one/group.toml)
GG=(train "$SOURCE_DIR/jobs/gin_group.toml" --set data.shard_dir=shards --set "data.datasets=$group" "${TINY[@]}"
    --set train.epochs=2 --set 'train.seeds=[0,1]')
run 1 "${GG[@]}" --set output.dir=gg1 > gg1.log 2>&1 || { cat gg1.log; fail "gin_group on 1 rank"; }
run "$NP" "${GG[@]}" --set output.dir=ggn > ggn.log 2>&1 || { cat ggn.log; fail "gin_group on $NP ranks"; }
"$PY" - <<'PY' || fail "gin_group differs between 1 and $NP ranks"
import h5py
a, b = h5py.File("gg1/results.h5"), h5py.File("ggn/results.h5")
assert a.attrs["seeds_completed"] == 2
for s in ("0", "1"):
    for k in ("train_loss", "valid_rmse", "test_rmse"):
        assert a[f"seeds/{s}/{k}"][()].tobytes() == b[f"seeds/{s}/{k}"][()].tobytes(), (s, k)
PY
# relfm eval scores the group-trained GIN's target: the last epoch's test RMSE, on 1 and NP ranks alike,
# and writes its predictions (every test molecule once).
run "$NP" eval ggn/checkpoint.h5 --predictions ggpred.h5 > gge.log 2>&1 || { cat gge.log; fail "eval gin_group"; }
run 1 eval ggn/checkpoint.h5 --split test > gge1.log 2>&1 || { cat gge1.log; fail "eval gin_group on 1 rank"; }
"$PY" - <<'PY' || { cat gge.log gge1.log; fail "eval gin_group: score or predictions"; }
import re, h5py, numpy as np
r = h5py.File("ggn/results.h5")
last = r["seeds/1/test_rmse"][-1]
for log in ("gge.log", "gge1.log"):
    v = float(re.search(r"test rmse = ([0-9.]+)", open(log).read()).group(1))
    assert abs(v - last) < 1e-4, (log, v, last)
p = h5py.File("ggpred.h5")
assert abs(p.attrs["value"] - last) < 1e-9 and p["predictions"].shape[0] == p["labels"].shape[0] == len(set(p["ids"][()]))
PY
# --shard scores the model on another shard of the target's tasks (the auxiliary data sets stay as trained):
# a copy of the target's shard reads the same score; one with other tasks, or none, is refused by name.
cp shards/freesolv.h5 other_freesolv.h5
run "$NP" eval ggn/checkpoint.h5 --split test --shard other_freesolv.h5 > ggs.log 2>&1 || { cat ggs.log; fail "eval gin_group --shard"; }
[[ "$(grep -o 'test rmse = [0-9.]*' ggs.log)" == "$(grep -o 'test rmse = [0-9.]*' gge.log)" ]] || { cat ggs.log gge.log; fail "eval gin_group --shard: another score"; }
expect_failure 2 "the model needs" "$NP" eval ggn/checkpoint.h5 --shard shards/clintox.h5
expect_failure 2 "data.target_shard: no shard at 'nosuch.h5'" "$NP" eval ggn/checkpoint.h5 --shard nosuch.h5
# train.auxiliary_regression = standardized rescales only auxiliary regression labels: with classification
# auxiliaries (and a regression target) the runs are bit for bit the raw ones; with FreeSolv as an auxiliary
# its MSE, in kcal^2/mol^2 when raw, drops to about 1 and the training loss with it.
AR=(train "$SOURCE_DIR/jobs/gin_group.toml" --set data.shard_dir=shards "${TINY[@]}" --set train.epochs=1 --set 'train.seeds=[0]')
for pair in 'bace_clintox:["bace", "clintox"]' 'freesolv_bace:["freesolv", "bace"]' 'bace_freesolv:["bace", "freesolv"]'; do
  name=${pair%%:*}; sets=${pair#*:}
  for mode in raw standardized; do
    run "$NP" "${AR[@]}" --set "data.datasets=$sets" --set train.auxiliary_regression=$mode --set output.dir=ar_${name}_$mode \
      > ar_${name}_$mode.log 2>&1 || { cat ar_${name}_$mode.log; fail "auxiliary_regression=$mode on $sets"; }
  done
done
"$PY" - <<'PY' || fail "train.auxiliary_regression"
import h5py
def series(d, k):
    f = h5py.File(d + "/results.h5")
    return f["seeds/0/" + k][()]
for name, metric in (("bace_clintox", "test_rocauc"), ("freesolv_bace", "test_rmse")):
    for k in ("train_loss", metric):
        assert series(f"ar_{name}_raw", k).tobytes() == series(f"ar_{name}_standardized", k).tobytes(), (name, k)
raw, std = series("ar_bace_freesolv_raw", "train_loss")[0], series("ar_bace_freesolv_standardized", "train_loss")[0]
assert std < 0.5 * raw, (raw, std)
PY
# The grouping job reads the same key (DatasetGroup): with a regression auxiliary its gates move, with a
# classification one they do not.
for pair in 'bc:["bace", "clintox"]' 'bf:["bace", "freesolv"]'; do
  name=${pair%%:*}; sets=${pair#*:}
  for mode in raw standardized; do
    run "$NP" "${ARGS[@]}" --set "data.datasets=$sets" --set train.rounds=1 --set train.auxiliary_regression=$mode \
      --set output.dir=gr_${name}_$mode > gr_${name}_$mode.log 2>&1 || { cat gr_${name}_$mode.log; fail "grouping, $mode, $sets"; }
  done
done
"$PY" - <<'PY' || fail "train.auxiliary_regression in the grouping"
import h5py
g = lambda d: h5py.File(d + "/results.h5")["seeds/round1/gates"][()]
assert g("gr_bc_raw").tobytes() == g("gr_bc_standardized").tobytes()
assert g("gr_bf_raw").tobytes() != g("gr_bf_standardized").tobytes()
PY
"$PY" "$SOURCE_DIR/io/analysis/molgroup_report.py" one/results.h5 --out report > report.log 2>&1 || { cat report.log; fail "report"; }
grep -q "Selected group: \*\*" report/report.md && [[ -s report/gates_freesolv.png ]] || fail "report contents"

# Stopped in round 1 (epoch 2) and again in the middle of round 2, resumed: equal to the straight run.
status=0; run "$NP" "${ARGS[@]}" --set output.dir=stopped --set debug.stop_after_steps=20 > s1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat s1.log; fail "expected exit 75 at the first stop, got $status"; }
status=0; run "$NP" "${ARGS[@]}" --set output.dir=stopped --set debug.stop_after_steps=$((STEPS_ROUND1 + 5)) > s2.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat s2.log; fail "expected exit 75 in round 2, got $status"; }
inspect_has stopped/checkpoint.h5 "seed index 1" || { run 1 inspect stopped/checkpoint.h5; fail "the second stop is not in round 2"; }
run "$NP" "${ARGS[@]}" --set output.dir=stopped > s3.log 2>&1 || { cat s3.log; fail "resume failed"; }
ref=$([[ $NP -gt 1 ]] && echo many || echo one)
h5 same "$ref/checkpoint.h5" stopped/checkpoint.h5 /sections/model /sections/router /sections/optimizer.gate
"$PY" - "$ref" <<'PY' || fail "the resumed run differs"
import h5py, sys
a, b = h5py.File(sys.argv[1] + "/results.h5"), h5py.File("stopped/results.h5")
for r in ("round1", "round2"):
    for k in ("gates", "gates_epoch", "train_loss", "test_rmse", "gate_bbbp"):
        assert a[f"seeds/{r}/{k}"][()].tobytes() == b[f"seeds/{r}/{k}"][()].tobytes(), (r, k)
    for k in ("kept", "dropped", "scores"):
        assert a[f"seeds/{r}"].attrs[k] == b[f"seeds/{r}"].attrs[k], (r, k)
assert a.attrs["selected_group"] == b.attrs["selected_group"]
PY

# Bad inputs.
expect_failure 2 "data.datasets: data set 'nosuch' has no shard at 'shards/nosuch.h5'" "$NP" "${ARGS[@]}" \
  --set 'data.datasets=["freesolv", "nosuch"]' --set output.dir=bad1
# Two scaffolds, 8 + 2 molecules: the scaffold split gives train 8, valid 0, test 2.
printf 'smiles,y\nc1ccccc1O,1.0\nc1ccccc1N,2.0\nc1ccccc1C,1.5\nc1ccccc1Cl,0.5\nc1ccccc1F,0.7\nc1ccccc1Br,0.2\nc1ccccc1I,0.3\nc1ccccc1CC,0.9\nOC1CCCCC1,1.1\nNC1CCCCC1,1.2\n' > benz.csv
run 1 shard --csv benz.csv --task-type regression --out shards/benz.h5 --quiet > /dev/null 2>&1 || fail "benz shard"
expect_failure 2 "the target 'benz' has no validation split" "$NP" "${ARGS[@]}" --set 'data.datasets=["benz", "bace"]' \
  --set output.dir=bad2
printf 'smiles,active\nCCO,\nCCN,\nc1ccccc1O,\nCCCC,\nCC(=O)O,\nC1CCCCC1,\n' > blank.csv
run 1 shard --csv blank.csv --task-type classification --out shards/blank.h5 --quiet > /dev/null 2>&1 || fail "blank shard"
expect_failure 2 "data set 'blank'" "$NP" "${ARGS[@]}" --set 'data.datasets=["freesolv", "blank"]' --set output.dir=bad3
expect_failure 2 "training molecules has a label" "$NP" "${ARGS[@]}" --set 'data.datasets=["freesolv", "blank"]' --set output.dir=bad3
[[ ! -e bad1/results.h5 && ! -e bad2/results.h5 && ! -e bad3/results.h5 ]] || fail "results written for bad input"
# A gate that turns NaN in epoch 2 (step 20): exit 3 naming the data set, the epoch-1 checkpoint kept.
expect_failure 3 "the gate of 'bace' is NaN" "$NP" "${ARGS[@]}" --set output.dir=nan --set debug.nan_gate_at_step=20
inspect_has nan/checkpoint.h5 "epoch 1, step in epoch 0" || { run 1 inspect nan/checkpoint.h5; fail "last good checkpoint missing"; }
echo "PASS molgroup_e2e np=$NP"
