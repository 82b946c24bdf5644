#!/bin/bash
# The GIN job on the shared trainer is bit-identical to the code before the trainer existed: a short
# run's losses, metrics and every checkpoint tensor equal fingerprints recorded with that code
# (tests/e2e/data/gin_bbbp_2epochs.<backend>-<kernel>.np<N>.json). Float rounding depends on the GEMM
# kernel, so the comparison runs only where a fingerprint for the kernel this run used exists; elsewhere
# the test is skipped (exit 77) and says which kernel it saw.
source "$(dirname "$0")/lib.sh" "$@"

shard bbbp bbbp.h5
run "$NP" train "$SOURCE_DIR/jobs/gin_bbbp.toml" --set data.shard=bbbp.h5 --set output.dir=out --set train.epochs=2 \
  --set "train.seeds=[0,1]" --quiet > run.log 2>&1 || { cat run.log; fail "reference run"; }
backend=$(h5 attr out/results.h5 gemm_backend 2>/dev/null || true)
kernel=$(h5 attr out/results.h5 gemm_kernel 2>/dev/null || true)
ref="$SOURCE_DIR/tests/e2e/data/gin_bbbp_2epochs.${backend}-${kernel}.np${NP}.json"
if [[ -z $backend || ! -f $ref ]]; then
  echo "SKIP: no fingerprint recorded for GEMM backend '${backend:-?}' kernel '${kernel:-?}' at $NP ranks ($ref)"
  exit 77
fi
"$PY" "$SOURCE_DIR/tests/e2e/fingerprint.py" out/results.h5 out/checkpoint.h5 --expect "$ref" || fail "not bit-identical"
echo "PASS gin_reference_e2e np=$NP"
