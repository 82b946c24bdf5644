#!/bin/bash
# Resume is bit-identical: a run stopped mid-epoch (as by Slurm's SIGUSR1) or killed while writing a
# checkpoint, then resumed, ends with exactly the parameters and metrics of a run never interrupted; a
# finished job goes on with more epochs (one run) or more seeds.
source "$(dirname "$0")/lib.sh" "$@"

shard bbbp bbbp.h5
ARGS=(train "$SOURCE_DIR/jobs/gin_bbbp.toml" --set data.shard=bbbp.h5 "${TINY[@]}" --set train.epochs=3 --set train.seeds=[0,1])
STEPS_PER_EPOCH=13   # ceil(1631 / 128)

run "$NP" "${ARGS[@]}" --set output.dir=straight > straight.log 2>&1 || { cat straight.log; fail "reference run"; }

# (1) Stopped twice: mid-epoch in seed 0, then mid-epoch in seed 1; exit 75 each time, then resumed.
status=0; run "$NP" "${ARGS[@]}" --set output.dir=stopped --set debug.stop_after_steps=20 > s1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat s1.log; fail "expected exit 75 after the stop, got $status"; }
grep -q "checkpoint" s1.log || fail "no checkpoint message"
status=0; run "$NP" "${ARGS[@]}" --set output.dir=stopped --set debug.stop_after_steps=$((3 * STEPS_PER_EPOCH + 5)) > s2.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat s2.log; fail "expected exit 75 at the second stop, got $status"; }
run "$NP" "${ARGS[@]}" --set output.dir=stopped > s3.log 2>&1 || { cat s3.log; fail "resume failed"; }
h5 same straight/checkpoint.h5 stopped/checkpoint.h5 /sections/model /sections/optimizer
h5 same straight/results.h5 stopped/results.h5 /summary
for s in 0 1; do
  "$PY" - <<PY || fail "metrics differ for seed $s"
import h5py, numpy as np
a, b = h5py.File("straight/results.h5"), h5py.File("stopped/results.h5")
for k in ("train_loss", "valid_rocauc", "test_rocauc", "epoch"):
    assert a["seeds/$s/" + k][()].tobytes() == b["seeds/$s/" + k][()].tobytes(), k
# Every record of a run survives the resumes (per-rank counts included).
assert set(a["seeds/$s"]) == set(b["seeds/$s"]), set(a["seeds/$s"]) ^ set(b["seeds/$s"])
for k in a["seeds/$s"]:
    if k.startswith("rank_") and a["seeds/$s/" + k].dtype.kind == "i":
        assert a["seeds/$s/" + k][()].tobytes() == b["seeds/$s/" + k][()].tobytes(), k
# An epoch split over two sessions reports all its items and the time of both parts: items per epoch
# (rate x time) are those of the straight run.
rate = [k for k in a["seeds/$s"] if k.endswith("_per_second")][0]
items = lambda f: f["seeds/$s/" + rate][()] * f["seeds/$s/train_seconds"][()]
assert np.allclose(items(a), items(b), rtol=1e-6), (rate, items(a), items(b))
# Where the run trained: this machine and kernel, listed once though it was resumed on them.
for k in ("cpu", "gemm_key", "gemm_kernel"):
    assert b["seeds/$s"].attrs[k] == b.attrs[k], (k, b["seeds/$s"].attrs[k], b.attrs[k])
PY
done

# (2) Killed (SIGKILL on rank 0) in the middle of writing the second checkpoint.
status=0; run "$NP" "${ARGS[@]}" --set output.dir=killed --set debug.crash_in_checkpoint=2 > k1.log 2>&1 || status=$?
[[ $status -ne 0 ]] || fail "the crash run should not succeed"
[[ -f killed/checkpoint.h5.tmp ]] || fail "expected the half-written killed/checkpoint.h5.tmp"
inspect_has killed/checkpoint.h5 "epoch 1, step in epoch 0" || fail "the previous checkpoint (after epoch 1) is not intact"
run "$NP" "${ARGS[@]}" --set output.dir=killed > k2.log 2>&1 || { cat k2.log; fail "resume after the crash failed"; }
h5 same straight/checkpoint.h5 killed/checkpoint.h5 /sections/model /sections/optimizer
h5 same straight/results.h5 killed/results.h5 /summary

# (3) Another rank count: refused mid-epoch (the batch order depends on it), allowed at an epoch boundary.
other=$(( NP == 1 ? 2 : 1 ))
status=0; run "$NP" "${ARGS[@]}" --set output.dir=moved --set debug.stop_after_steps=5 > m1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || fail "expected exit 75"
expect_failure 2 "in the middle of an epoch" "$other" "${ARGS[@]}" --set output.dir=moved
# A stop on an epoch's last step finishes the epoch first, so its checkpoint is at the boundary.
status=0; run "$NP" "${ARGS[@]}" --set output.dir=boundary --set train.epochs=2 --set train.seeds=[0] \
  --set debug.stop_after_steps=$STEPS_PER_EPOCH > b1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat b1.log; fail "expected exit 75 at the epoch boundary, got $status"; }
inspect_has boundary/checkpoint.h5 "epoch 1, step in epoch 0" || fail "boundary checkpoint not at epoch 1"
run "$other" "${ARGS[@]}" --set output.dir=boundary --set train.epochs=2 --set train.seeds=[0] > b2.log 2>&1 || { cat b2.log; fail "epoch-boundary resume on $other ranks"; }
grep -q "continuing on $other" b2.log || { cat b2.log; fail "no note about the rank change"; }
h5 results boundary/results.h5 1 2
"$PY" - <<PY || fail "per-rank series across the rank change"
import h5py, numpy as np
r = h5py.File("boundary/results.h5")["seeds/0/rank_train_seconds"][()]
assert r.shape == (2, max($NP, $other)), r.shape
assert list(np.isfinite(r).sum(axis=1)) == [$NP, $other], r
PY

# (4) A finished one-run job rerun with a larger train.epochs trains on from its last epoch: the same
# parameters and metrics as a run started with the larger value. A job of several runs is refused.
ONE=("${ARGS[@]}" --set train.seeds=[0])
run "$NP" "${ONE[@]}" --set output.dir=longer > l1.log 2>&1 || { cat l1.log; fail "3-epoch reference"; }
run "$NP" "${ONE[@]}" --set output.dir=extended --set train.epochs=2 > e1.log 2>&1 || { cat e1.log; fail "2 epochs"; }
run "$NP" "${ONE[@]}" --set output.dir=extended > e2.log 2>&1 || { cat e2.log; fail "extending to 3 epochs"; }
grep -q "extending the finished run" e2.log || { cat e2.log; fail "no note about the extension"; }
h5 same longer/checkpoint.h5 extended/checkpoint.h5 /sections/model /sections/optimizer
h5 same longer/results.h5 extended/results.h5 /summary
"$PY" - <<PY || fail "the extended run's metrics differ"
import h5py
a, b = h5py.File("longer/results.h5"), h5py.File("extended/results.h5")
for k in ("train_loss", "valid_rocauc", "test_rocauc", "epoch"):
    assert a["seeds/0/" + k][()].tobytes() == b["seeds/0/" + k][()].tobytes(), k
assert len(b["seeds/0/epoch"][()]) == 3
PY
expect_failure 2 "can be raised to train further only for a job of one run" "$NP" "${ARGS[@]}" --set output.dir=straight --set train.epochs=4

# (5) Seeds added to a finished job: train.seeds may grow at its end; the new seeds run after the saved
# ones and the job ends as the one started with the longer list (straight: seeds [0, 1]). Any other change
# of the list, or a new train.epochs with it, is refused.
cp -r longer more_seeds
run "$NP" "${ARGS[@]}" --set output.dir=more_seeds > ms.log 2>&1 || { cat ms.log; fail "adding seed 1"; }
grep -q "adding 1 run to the 1" ms.log || { cat ms.log; fail "no note about the added seed"; }
h5 same straight/checkpoint.h5 more_seeds/checkpoint.h5 /sections/model /sections/optimizer
h5 same straight/results.h5 more_seeds/results.h5 /summary
"$PY" - <<PY || fail "the added seed's metrics differ"
import h5py
a, b = h5py.File("straight/results.h5"), h5py.File("more_seeds/results.h5")
for s in ("0", "1"):
    for k in ("train_loss", "valid_rocauc", "test_rocauc", "epoch"):
        assert a["seeds/" + s + "/" + k][()].tobytes() == b["seeds/" + s + "/" + k][()].tobytes(), (s, k)
PY
expect_failure 2 "it may only grow at its end" "$NP" "${ARGS[@]}" --set output.dir=straight --set train.seeds=[1,0,2]
expect_failure 2 "it may only grow at its end" "$NP" "${ARGS[@]}" --set output.dir=straight --set train.seeds=[0]
expect_failure 2 "needs the same train.epochs" "$NP" "${ARGS[@]}" --set output.dir=longer --set train.epochs=4
# Fewer epochs than the checkpoint's runs have: refused (the runs would stop short of what they recorded).
expect_failure 2 "train.epochs may only grow on resume" "$NP" "${ARGS[@]}" --set output.dir=straight --set train.epochs=2

# (6) The checkpoint lost (deleted, or gone with a scratch directory): the completed runs results.h5
# records are kept and the job goes on from the first missing run, which restarts from its beginning.
# Stopped in seed 1, checkpoint deleted, rerun: seed 0 kept, seed 1 retrained, the job's results and
# final checkpoint those of the straight run.
status=0; run "$NP" "${ARGS[@]}" --set output.dir=lost --set debug.stop_after_steps=$((3 * STEPS_PER_EPOCH + 5)) > lo1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat lo1.log; fail "expected exit 75 in seed 1, got $status"; }
rm lost/checkpoint.h5
# (RELFM_GEMM, which the tests set, would override the kernel the kept runs recorded: unset for this run.)
RELFM_GEMM= run "$NP" "${ARGS[@]}" --set output.dir=lost > lo2.log 2>&1 || { cat lo2.log; fail "rerun without the checkpoint"; }
grep -q "keeping the 1 completed run" lo2.log || { cat lo2.log; fail "no note about the kept run"; }
grep -q "forced by the results 'lost/results.h5'" lo2.log || { cat lo2.log; fail "the kept runs' GEMM kernel was not asked for"; }
h5 same straight/checkpoint.h5 lost/checkpoint.h5 /sections/model /sections/optimizer
h5 same straight/results.h5 lost/results.h5 /summary
"$PY" - <<PY || fail "the kept and the retrained seed differ from the straight run"
import h5py
a, b = h5py.File("straight/results.h5"), h5py.File("lost/results.h5")
for s in ("0", "1"):
    for k in a["seeds/" + s]:
        if "seconds" in k or "per_second" in k: continue  # timings
        assert a["seeds/" + s + "/" + k][()].tobytes() == b["seeds/" + s + "/" + k][()].tobytes(), (s, k)
    assert dict(a["seeds/" + s].attrs) == dict(b["seeds/" + s].attrs), s
# The kept run's steps count: the job's step counter goes on where the straight run's is.
assert list(b["seeds/0/steps"][()]) == [$STEPS_PER_EPOCH] * 3, b["seeds/0/steps"][()]
ca, cb = h5py.File("straight/checkpoint.h5"), h5py.File("lost/checkpoint.h5")
assert ca["sections/trainer"].attrs["global_step"] == cb["sections/trainer"].attrs["global_step"] == 6 * $STEPS_PER_EPOCH, \
    (ca["sections/trainer"].attrs["global_step"], cb["sections/trainer"].attrs["global_step"])
PY
grep -q "global_step count starts at 0" lo2.log && { cat lo2.log; fail "the kept run's steps were not counted"; }
# On another rank count the kept run keeps its own per-rank columns.
cp -r longer lost_moved; rm lost_moved/checkpoint.h5
# ... and the machine it trained on, which the new run does not share (as if it came from another one).
"$PY" -c "import h5py; h5py.File('lost_moved/results.h5', 'r+')['seeds/0'].attrs['cpu'] = 'Another CPU (family 0 model 0)'"
run "$other" "${ARGS[@]}" --set output.dir=lost_moved > lo3.log 2>&1 || { cat lo3.log; fail "rerun without the checkpoint on $other ranks"; }
"$PY" - <<PY || fail "per-rank series of the kept run"
import h5py
a, b = h5py.File("longer/results.h5"), h5py.File("lost_moved/results.h5")
assert b["seeds/0/rank_train_seconds"][()].tobytes() == a["seeds/0/rank_train_seconds"][()].tobytes()
assert b["seeds/0/rank_train_seconds"].shape == (3, $NP) and b["seeds/1/rank_train_seconds"].shape == (3, $other)
assert b["seeds/0/valid_rocauc"][()].tobytes() == a["seeds/0/valid_rocauc"][()].tobytes()
assert list(b["summary/completed"][()]) == [1, 1]
# Each run says where it trained: the kept one its own machine, the new one this session's.
here = b.attrs["cpu"]
assert b["seeds/0"].attrs["cpu"] in ("Another CPU (family 0 model 0)", b"Another CPU (family 0 model 0)"), b["seeds/0"].attrs["cpu"]
assert b["seeds/1"].attrs["cpu"] == here and b["seeds/1"].attrs["gemm_key"] == b.attrs["gemm_key"], dict(b["seeds/1"].attrs)
PY
# Completed runs that cannot be kept are never overwritten silently.
cp -r longer lost_refused; rm lost_refused/checkpoint.h5
expect_failure 2 "it may only grow at its end" "$NP" "${ARGS[@]}" --set output.dir=lost_refused --set train.seeds=[1,0]
expect_failure 2 "completed run(s) of train.epochs = 3" "$NP" "${ARGS[@]}" --set output.dir=lost_refused --set train.epochs=4
"$PY" -c "import h5py; assert list(h5py.File('lost_refused/results.h5')['summary/completed'][()]) == [1]" || fail "refused run touched the results"
run "$NP" "${ARGS[@]}" --set output.dir=lost_refused --set train.seeds=[1] --resume never > lo4.log 2>&1 || { cat lo4.log; fail "--resume never"; }
"$PY" -c "import h5py; assert list(h5py.File('lost_refused/results.h5')['summary/seed'][()]) == [1]" || fail "--resume never starts afresh"
# Another kind of results file (a work-items job's) and no checkpoint: named, not overwritten.
mkdir -p foreign
"$PY" -c "import h5py; f = h5py.File('foreign/results.h5', 'w'); f.attrs['format'] = 'relfm.work_results'"
expect_failure 2 "is not the results of an epoch-based job (format 'relfm.work_results')" "$NP" "${ARGS[@]}" --set output.dir=foreign
echo "PASS resume_e2e np=$NP"
