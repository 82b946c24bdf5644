#!/bin/bash
# relfm merge: the seeds a Slurm array trained one per output directory, merged, give the results of the
# job that trained them together (every run's records and the summary over all); runs that could not
# have been one job are refused with one message, and the merged file resumes like any results file.
source "$(dirname "$0")/lib.sh" "$@"

shard bbbp bbbp.h5
ARGS=(train "$SOURCE_DIR/jobs/gin_bbbp.toml" --set data.shard=bbbp.h5 "${TINY[@]}" --set train.epochs=2)
run "$NP" "${ARGS[@]}" --set 'train.seeds=[0,1,2]' --set output.dir=straight > straight.log 2>&1 || { cat straight.log; fail "reference run"; }
run "$NP" "${ARGS[@]}" --set 'train.seeds=[0]' --set output.dir=seed_0 > a.log 2>&1 || { cat a.log; fail "seed 0 alone"; }
run "$NP" "${ARGS[@]}" --set 'train.seeds=[1,2]' --set output.dir=seeds_12 > b.log 2>&1 || { cat b.log; fail "seeds 1 and 2"; }

# (1) Merged (inputs in any order): the job's runs and summary, bit for bit but for the timings.
run "$NP" merge seeds_12/results.h5 seed_0/results.h5 --out merged.h5 > m.log 2>&1 || { cat m.log; fail "merge"; }
grep -q "3 runs of job" m.log || { cat m.log; fail "merge summary line"; }
h5 same straight/results.h5 merged.h5 /summary
"$PY" - <<'PY' || fail "merged runs differ from the job that trained them together"
import h5py
a, b = h5py.File("straight/results.h5"), h5py.File("merged.h5")
assert list(b["summary/seed"][()]) == [0, 1, 2]
for name in ("summary_mean", "summary_std", "seeds_completed", "job_kind", "cpu"):
    assert a.attrs[name] == b.attrs[name], name
for s in ("0", "1", "2"):
    assert set(a["seeds/" + s]) == set(b["seeds/" + s]), s
    for k in a["seeds/" + s]:
        if "seconds" in k or "per_second" in k: continue  # timings
        assert a["seeds/" + s + "/" + k][()].tobytes() == b["seeds/" + s + "/" + k][()].tobytes(), (s, k)
    assert dict(a["seeds/" + s].attrs) == dict(b["seeds/" + s].attrs), s
cfg = b["config"][()].decode()
assert "seeds = [ 0, 1, 2 ]" in cfg or "seeds = [0, 1, 2]" in cfg, cfg
PY
run 1 inspect merged.h5 > inspect.log || fail "inspect the merged file"
grep -q "over 3 completed seed" inspect.log || { cat inspect.log; fail "inspect summary of the merged file"; }

# (2) The merged file is a results file like any other: without a checkpoint, a job with one more seed
# keeps the three runs and trains the fourth.
mkdir -p more && cp merged.h5 more/results.h5
run "$NP" "${ARGS[@]}" --set 'train.seeds=[0,1,2,3]' --set output.dir=more > more.log 2>&1 || { cat more.log; fail "resume from the merged results"; }
grep -q "keeping the 3 completed runs" more.log || { cat more.log; fail "the merged runs were not kept"; }
"$PY" -c "import h5py; f = h5py.File('more/results.h5'); assert list(f['summary/completed'][()]) == [1, 1, 1, 1]" || fail "fourth seed"

# (3) Runs that could not have been one job, and other bad input: one message, nothing written.
run "$NP" "${ARGS[@]}" --set 'train.seeds=[3]' --set train.epochs=3 --set output.dir=longer > c.log 2>&1 || { cat c.log; fail "seed 3"; }
run "$NP" "${ARGS[@]}" --set 'train.seeds=[4]' --set model.hidden=16 --set output.dir=narrow > d.log 2>&1 || { cat d.log; fail "seed 4"; }
expect_failure 2 "run '0' is in both 'seed_0/results.h5' and 'straight/results.h5'" "$NP" merge seed_0/results.h5 straight/results.h5 --out dup.h5
expect_failure 2 "'longer/results.h5' has train.epochs = 3" "$NP" merge seed_0/results.h5 longer/results.h5 --out bad.h5
expect_failure 2 "model.hidden" "$NP" merge seed_0/results.h5 narrow/results.h5 --out bad.h5
expect_failure 2 "is not the results of an epoch-based job (format 'relfm.molecule_shard')" "$NP" merge seed_0/results.h5 bbbp.h5 --out bad.h5
expect_failure 2 "no results file 'nowhere.h5'" "$NP" merge seed_0/results.h5 nowhere.h5 --out bad.h5
expect_failure 2 "is one of the inputs" "$NP" merge seed_0/results.h5 seeds_12/results.h5 --out seed_0/results.h5
expect_failure 2 "at least two results files" "$NP" merge seed_0/results.h5 --out bad.h5
[[ ! -e dup.h5 && ! -e bad.h5 ]] || fail "a refused merge wrote its output"
echo "PASS merge_e2e np=$NP"
