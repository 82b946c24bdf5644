# Shared helpers for the end-to-end tests (sourced). Usage in a test:
#   source "$(dirname "$0")/lib.sh" "$@"   # args: RELFM_BIN SOURCE_DIR [NP]
set -euo pipefail

RELFM=${1:?usage: test.sh RELFM_BIN SOURCE_DIR [NP]}
SOURCE_DIR=${2:?usage: test.sh RELFM_BIN SOURCE_DIR [NP]}
NP=${3:-2}
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
WORK=$(mktemp -d "${TMPDIR:-/tmp}/relfm-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# A training configuration small enough for tests: seconds on 2 cores.
TINY=(--set model.hidden=32 --set model.layers=2 --set train.batch_size=128 --set output.progress=lines)

run() {  # run NP relfm ARGS...: relfm under mpirun with a timeout (a hang fails the test)
  local np=$1; shift
  timeout 300 mpirun -n "$np" --bind-to none "$RELFM" "$@"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_failure CODE TEXT np ARGS...: relfm must exit with CODE and print TEXT (on stderr or stdout).
expect_failure() {
  local code=$1 text=$2; shift 2
  local out status=0
  out=$(run "$@" 2>&1) || status=$?
  [[ $status -eq $code ]] || { echo "$out" >&2; fail "expected exit $code, got $status: relfm ${*:2}"; }
  grep -qF -- "$text" <<<"$out" || { echo "$out" >&2; fail "expected message containing: $text"; }
  # Exactly one copy of the message, whatever the rank count (errors are reported once).
  local copies
  copies=$(grep -cF -- "$text" <<<"$out" || true)
  [[ $copies -eq 1 ]] || { echo "$out" >&2; fail "message printed $copies times: $text"; }
  echo "ok: exit $code with '$text'"
}

shard() {  # shard DATASET OUT
  run 1 shard --dataset "$1" --out "$2" --quiet
}

h5() { "$PY" "$SOURCE_DIR/tests/e2e/h5check.py" "$@"; }

# inspect_has FILE TEXT: `relfm inspect FILE` succeeds and prints TEXT. (Not `inspect | grep -q`: grep may
# exit at the first match while mpirun still forwards output, and the SIGPIPE fails the pipeline.)
inspect_has() {
  local out
  out=$(run 1 inspect "$1") || return 1
  grep -qF -- "$2" <<<"$out"
}
