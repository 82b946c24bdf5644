#!/bin/bash
# End to end on NP ranks: CSV -> shard -> data-parallel training (2 seeds) -> results, checkpoint,
# evaluation of the checkpoint, inspection of every file kind, and the offline plot.
source "$(dirname "$0")/lib.sh" "$@"

shard bbbp bbbp.h5
run "$NP" train "$SOURCE_DIR/jobs/gin_bbbp.toml" --set data.shard=bbbp.h5 --set output.dir=out "${TINY[@]}" \
  --set train.epochs=3 --set train.seeds=[0,1] --set debug.check_replicas=true > train.log 2>&1 || { cat train.log; fail "training failed"; }
grep -q "test rocauc at the best validation epoch" train.log || { cat train.log; fail "no summary line"; }
h5 results out/results.h5 2 3
[[ $(h5 attr out/results.h5 world_size) == "$NP" ]] || fail "world_size attribute"

# Same seed, same rank count: bit-identical parameters and metrics.
run "$NP" train "$SOURCE_DIR/jobs/gin_bbbp.toml" --set data.shard=bbbp.h5 --set output.dir=again "${TINY[@]}" \
  --set train.epochs=3 --set train.seeds=[0,1] --quiet > again.log 2>&1 || { cat again.log; fail "second run"; }
h5 same out/checkpoint.h5 again/checkpoint.h5 /sections/model /sections/optimizer
"$PY" -c "
import h5py
a, b = h5py.File('out/results.h5'), h5py.File('again/results.h5')
for s in ('0', '1'):
    for k in ('train_loss', 'valid_rocauc', 'test_rocauc'):
        assert a['seeds/'+s+'/'+k][()].tobytes() == b['seeds/'+s+'/'+k][()].tobytes(), k
print('rerun identical')" || fail "a rerun with the same seed differs"

# The checkpoint after the last epoch scores the test split exactly as the results recorded it.
run "$NP" eval out/checkpoint.h5 --split test --predictions preds.h5 > eval.log
recorded=$("$PY" -c "import h5py; f=h5py.File('out/results.h5'); print('%.4f' % f['seeds/1/test_rocauc'][-1])")
grep -q "test rocauc = $recorded" eval.log || { cat eval.log; fail "eval disagrees with results ($recorded)"; }
"$PY" -c "
import h5py, numpy as np
f = h5py.File('preds.h5'); s = h5py.File('bbbp.h5')
assert sorted(f['ids'][()]) == list(s['split/test'][()])
assert f['predictions'].shape == (len(f['ids']), 1)
print('predictions ok')"

for file in bbbp.h5 out/checkpoint.h5 out/results.h5 preds.h5; do
  run 1 inspect "$file" > inspect.log || fail "inspect $file"
  grep -qE "shard|checkpoint|results|relfm file" inspect.log || { cat inspect.log; fail "inspect $file says nothing"; }
done

# Offline analysis: learning curves as PNG.
"$PY" "$SOURCE_DIR/io/analysis/plot_results.py" out/results.h5 --out curves.png > /dev/null
[[ -s curves.png ]] && head -c 8 curves.png | grep -q PNG || fail "no PNG written"
echo "PASS train_e2e np=$NP"
