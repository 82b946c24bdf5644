#!/bin/bash
# Bad input gets one clear message, a non-zero exit on every rank, no hang and no half-written output.
source "$(dirname "$0")/lib.sh" "$@"

# CSV with a row of the wrong width: file and line named, no shard written.
printf 'smiles,label\nCCO,1\nc1ccccc1,0\nCCN,1,extra\nCCC,0\n' > wide.csv
expect_failure 2 "wide.csv:4: expected 2 fields, found 3" "$NP" shard --csv wide.csv --task-type classification --out wide.h5
[[ ! -e wide.h5 && ! -e wide.h5.tmp ]] || fail "a shard was written for a bad CSV"

# An unparsable SMILES is skipped with a warning and counted; --strict names the line instead.
{ echo "smiles,label"; for i in $(seq 1 40); do echo "C$(printf 'C%.0s' $(seq 1 $((i % 7))))O,$((i % 2))"; done; echo "C1CC(,1"; echo "c1ccccc1N,0"; } > typo.csv
run "$NP" shard --csv typo.csv --task-type classification --out typo.h5 > typo.log 2>&1 || { cat typo.log; fail "shard with a bad SMILES"; }
grep -q "skipped 1 row" typo.log || { cat typo.log; fail "no warning about the skipped row"; }
[[ $(h5 attr typo.h5 num_skipped) == 1 ]] || fail "num_skipped attribute"
"$PY" -c "import h5py; assert list(h5py.File('typo.h5')['skipped/source_line'][()]) == [42]" || fail "skipped line not recorded"
expect_failure 2 "typo.csv:42: RDKit cannot parse SMILES 'C1CC('" "$NP" shard --csv typo.csv --task-type classification --out strict.h5 --strict
[[ ! -e strict.h5 ]] || fail "strict mode wrote a shard"
expect_failure 2 "cannot open" "$NP" shard --csv absent.csv --task-type classification --out x.h5

# Missing, foreign and truncated shards.
JOB=("$SOURCE_DIR/jobs/gin_bbbp.toml" "${TINY[@]}" --set train.epochs=1)
expect_failure 2 "'nothing.h5' does not exist" "$NP" train "${JOB[@]}" --set data.shard=nothing.h5 --set output.dir=o1
cp typo.csv notes.h5
expect_failure 2 "is not an HDF5 file" "$NP" train "${JOB[@]}" --set data.shard=notes.h5 --set output.dir=o2
shard bbbp bbbp.h5
cp bbbp.h5 cut.h5 && truncate -s $(( $(stat -c %s bbbp.h5) / 2 )) cut.h5
expect_failure 2 "truncated" "$NP" train "${JOB[@]}" --set data.shard=cut.h5 --set output.dir=o3
[[ ! -e o3/results.h5 ]] || fail "results written for a truncated shard"

# Job files: unknown key (with a suggestion and the line), wrong type, bad choice, bad override.
printf '[data]\nshard = "bbbp.h5"\n[train]\nlrr = 0.01\n[output]\ndir = "o4"\n' > typo.toml
expect_failure 2 "typo.toml, line 4: unknown key 'train.lrr' (did you mean 'train.lr'?)" "$NP" train typo.toml
printf '[data]\nshard = "bbbp.h5"\n[train]\nlr = "fast"\n[output]\ndir = "o4"\n' > type.toml
expect_failure 2 "key 'train.lr' must be a number, not a string" "$NP" train type.toml
expect_failure 2 "key 'model.features' must be one of simple, full, not 'simpel'" "$NP" train "${JOB[@]}" --set model.features=simpel
expect_failure 2 "unknown key 'model.hiden' (did you mean 'model.hidden'?)" "$NP" train "${JOB[@]}" --set model.hiden=3

# A NaN loss stops every rank with a message, exit 3, and keeps the last good checkpoint (epoch 1).
expect_failure 3 "training diverged: the loss is nan" "$NP" train "${JOB[@]}" --set data.shard=bbbp.h5 --set output.dir=nan \
  --set train.epochs=3 --set debug.nan_loss_at_step=17
inspect_has nan/checkpoint.h5 "epoch 1, step in epoch 0" || fail "last good checkpoint missing"
h5 results nan/results.h5 0 1 > /dev/null 2>&1 || true
"$PY" -c "import h5py; f = h5py.File('nan/results.h5'); assert list(f['seeds/0/epoch'][()]) == [1]" || fail "results should hold epoch 1 only"
# And a learning rate that really diverges.
expect_failure 3 "training diverged" "$NP" train "${JOB[@]}" --set data.shard=bbbp.h5 --set output.dir=nan2 --set train.lr=1e30 --set train.optimizer=sgd
echo "PASS bad_inputs_e2e np=$NP"
