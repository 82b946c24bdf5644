#!/bin/bash
# Job kinds on the shared trainer: a second kind (tests/jobs/synthetic_regression_job.cpp, one file) runs,
# stops and resumes bit-identically, and its results are read by inspect and the plot script without
# either knowing the job; job.kind errors name the key, line and choices; a checkpoint of another kind
# or of format_version 1 is refused naming both.
source "$(dirname "$0")/lib.sh" "$@"   # RELFM here is the relfm_test binary (relfm + test-only job kinds)
JOB="$SOURCE_DIR/tests/jobs/synthetic_regression.toml"
STEPS_PER_EPOCH=12   # ceil(360 / 32)

run "$NP" train "$JOB" --set output.dir=straight > straight.log 2>&1 || { cat straight.log; fail "regression run"; }
grep -q "relfm train 'regression' (synthetic_regression)" straight.log || { cat straight.log; fail "no headline"; }
grep -q "regression: test rmse at the best validation epoch = " straight.log || { cat straight.log; fail "no summary"; }
h5 results straight/results.h5 2 4
"$PY" - <<'PY' || fail "the regression did not learn"
import h5py
f = h5py.File("straight/results.h5")
assert f.attrs["job_kind"] in (b"synthetic_regression", "synthetic_regression")
assert float(f.attrs["summary_mean"]) < 0.5, float(f.attrs["summary_mean"])   # label std is about 2.7
assert f["seeds/0/rows_per_second"].shape == (4,)
PY

# Stopped mid-epoch, then resumed: bit-identical to the uninterrupted run.
status=0; run "$NP" train "$JOB" --set output.dir=stopped --set debug.stop_after_steps=$((STEPS_PER_EPOCH + 5)) > s1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat s1.log; fail "expected exit 75 after the stop, got $status"; }
run "$NP" train "$JOB" --set output.dir=stopped > s2.log 2>&1 || { cat s2.log; fail "resume failed"; }
h5 same straight/checkpoint.h5 stopped/checkpoint.h5 /sections/model /sections/optimizer
h5 same straight/results.h5 stopped/results.h5 /summary

# Readers that do not know the job.
run 1 inspect straight/results.h5 > inspect.log || fail "inspect results"
grep -q "test_rmse at the best valid_rmse" inspect.log || { cat inspect.log; fail "inspect summary"; }
inspect_has straight/checkpoint.h5 "synthetic_regression" || fail "inspect checkpoint"
"$PY" "$SOURCE_DIR/io/analysis/plot_results.py" straight/results.h5 --out curves.png > /dev/null || fail "plot"
[[ -s curves.png ]] || fail "no plot"

# The key reference per kind.
run 1 config --reference --kind synthetic_regression > ref.md || fail "config --reference --kind"
grep -q '`data.rows`' ref.md && grep -q '`train.epochs`' ref.md || { cat ref.md; fail "reference lacks keys"; }
grep -q '`model.hidden`' ref.md && fail "the regression reference lists the GIN's keys"
expect_failure 2 "unknown job kind 'nope'" 1 config --reference --kind nope

# job.kind errors: the key, the line and the choices.
printf '[job]\nname = "x"\nkind = "gni"\n' > badkind.toml
expect_failure 2 "badkind.toml, line 3: key 'job.kind' must be one of diffuser, gin, gin_group, graphcl, molgroup, squares, synthetic_regression, tp, not 'gni'" "$NP" train badkind.toml
expect_failure 2 "key 'job.kind' must be one of" "$NP" train "$JOB" --set job.kind=gni
# Out-of-range numbers name the key.
expect_failure 2 "key 'train.epochs' must be at least 1, not 0" "$NP" train "$JOB" --set train.epochs=0

# A checkpoint of another job kind is refused naming both kinds.
shard bbbp bbbp.h5
expect_failure 2 "was written by a 'synthetic_regression' job; this job is 'gin'" "$NP" train \
  "$SOURCE_DIR/jobs/gin_bbbp.toml" --set data.shard=bbbp.h5 "${TINY[@]}" --set output.dir=straight
# A changed key that blocks resume is named.
expect_failure 2 "data.rows = 600 in the checkpoint, 700 now" "$NP" train "$JOB" --set output.dir=straight --set data.rows=700
# A version-1 checkpoint is refused naming both versions.
mkdir -p old
"$PY" - <<'PY'
import h5py
with h5py.File("old/checkpoint.h5", "w") as f:
    f.attrs["format"] = "relfm.checkpoint"; f.attrs["format_version"] = 1; f.attrs["world_size"] = 1
    f["config"] = "[train]\n"
PY
expect_failure 2 "checkpoint of format_version 1" "$NP" train "$JOB" --set output.dir=old
echo "PASS job_kinds_e2e np=$NP"
