#!/bin/bash
# The tp job end to end against relfm_scripted_llm_server (a loopback server with scripted answers, not a
# model): results and the /calls table; the same results on another rank count; a rerun over a warm cache
# makes no HTTP call; a stopped run and a killed run resume without repeating a finished call; injected
# faults are retried away; a server that is down is recorded per call; a missing API key and a malformed
# problem file are errors naming the key / file and field.
# Args: RELFM SOURCE_DIR NP SCRIPTED_SERVER
source "$(dirname "$0")/lib.sh" "$@"
SERVER_BIN=${4:?usage: tp_e2e.sh RELFM SOURCE_DIR NP SCRIPTED_SERVER}
other=$(( NP == 1 ? 2 : 1 ))
SERVER_PIDS=()
trap 'for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

start_server() {  # start_server NAME ARGS...: sets URL_<NAME>
  local name=$1; shift
  "$SERVER_BIN" --port-file "$WORK/$name.port" "$@" > "$WORK/$name.server.log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 200); do [[ -s "$WORK/$name.port" ]] && break; sleep 0.05; done
  [[ -s "$WORK/$name.port" ]] || fail "the scripted server $name did not start"
  printf -v "URL_$name" 'http://127.0.0.1:%s' "$(cat "$WORK/$name.port")"
}
stat_of() {  # stat_of URL FIELD
  "$PY" -c "import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + '/stats'))[sys.argv[2]])" "$1" "$2"
}
tp_run() {  # tp_run NP URL OUTDIR ARGS...
  local np=$1 url=$2 dir=$3; shift 3
  run "$np" train tp.toml --set "llm.endpoints=[\"$url\"]" --set "output.dir=$dir" "$@"
}
same_results() {  # the scientific content of two results files is identical (timings and HTTP attempts aside)
  "$PY" - "$1" "$2" <<'PY' || fail "results of $1 and $2 differ"
import sys, h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
assert a.attrs["complete"] == 1 and b.attrs["complete"] == 1
skip = {"seconds", "llm_seconds", "http_attempts", "attempts"}
for group in ("items", "calls"):
    assert sorted(a[group]) == sorted(b[group]), group
    for k in a[group]:
        if k in skip: continue
        assert a[group][k][()].tobytes() == b[group][k][()].tobytes(), f"{group}/{k}"
for k, v in a.attrs.items():
    if k.endswith("_rate") or k.endswith("_per_problem"): assert b.attrs[k] == v, k
PY
}

printf '[job]\nkind = "tp"\nname = "tp"\n[tp]\nmethods = ["io", "tp"]\nlayers = 2\nnum_problems = 12\ngenerator_seed = 3\n[llm]\nmax_in_flight = 4\ninitial_backoff_s = 0.01\nmax_backoff_s = 0.05\n[output]\nprogress = "none"\n' > tp.toml
start_server noisy --mode noisy --error-rate 0.2 --seed 1

# (1) A run: every call in /calls, the summary per method and per TP layer.
tp_run "$NP" "$URL_noisy" "$WORK/straight" > straight.log 2>&1 || { cat straight.log; fail "straight run"; }
grep -q "tp: 24/24 problem-methods done" straight.log || { cat straight.log; fail "summary line"; }
"$PY" - <<'PY' || fail "results layout"
import h5py, numpy as np
f = h5py.File("straight/results.h5", "r")
items, calls = f["items"], f["calls"]
assert calls["item"].shape[0] == items["calls"][()].sum() > 24
assert f.attrs["io.calls_per_problem"] == 1
assert 4 <= f.attrs["tp.L1.calls_per_problem"] <= 10 and 10 <= f.attrs["tp.L2.calls_per_problem"] <= 30
steps = calls["step.chars"][()].tobytes().decode()
for s in ("solve", "propose", "solve_analogue", "aggregate", "readout"): assert s in steps, s
o, c = calls["prompt.offsets"][()], calls["prompt.chars"][()]
assert "Source Node:" in bytes(c[o[0]:o[1]]).decode()
assert np.all(calls["ok"][()] == 1)
# No matrix is multiplied, so no GEMM backend is timed or recorded (a timing race a rerun need not repeat).
assert "cpu" in f.attrs and not any(k.startswith("gemm") for k in f.attrs), sorted(f.attrs)
PY
! grep -q "gemm" straight.log || { cat straight.log; fail "the tp job timed or selected a GEMM backend"; }
calls_after_first=$(stat_of "$URL_noisy" chat_calls)

# (2) Another rank count, its own cache: the same results.
tp_run "$other" "$URL_noisy" "$WORK/other" > other.log 2>&1 || { cat other.log; fail "run on $other ranks"; }
same_results straight/results.h5 other/results.h5

# (3) A rerun from scratch over the warm cache (the results and the item journals deleted, the cache in
# the output directory kept): no HTTP call, and the same results file byte for byte.
mv straight/results.h5 first_results.h5 && rm -r straight/items
before=$(stat_of "$URL_noisy" chat_calls)
tp_run "$NP" "$URL_noisy" "$WORK/straight" > warm.log 2>&1 || { cat warm.log; fail "warm rerun"; }
[[ $(stat_of "$URL_noisy" chat_calls) -eq $before ]] || fail "the warm rerun made HTTP calls"
cmp first_results.h5 straight/results.h5 || fail "the warm rerun's results file differs from the first run's"
grep -Eq "this run \(not in the results\): .*cache_hits [1-9][0-9]*, cache_misses 0, failed_replies 0, http_failures 0, http_requests 0," warm.log \
  || { cat warm.log; fail "the warm rerun's counters"; }

# Two endpoints (one per node on a cluster): rank r asks entry r mod 2; the results do not change.
if [[ $NP -ge 2 ]]; then
  start_server second --mode noisy --error-rate 0.2 --seed 1
  first_before=$(stat_of "$URL_noisy" chat_calls)
  run "$NP" train tp.toml --set "llm.endpoints=[\"$URL_noisy\", \"$URL_second\"]" --set "output.dir=$WORK/two" > two.log 2>&1 \
    || { cat two.log; fail "run on two endpoints"; }
  [[ $(stat_of "$URL_second" chat_calls) -gt 0 && $(stat_of "$URL_noisy" chat_calls) -gt $first_before ]] \
    || fail "both endpoints should have been asked"
  same_results straight/results.h5 two/results.h5
fi

# (4) Stopped after 3 items per rank, resumed: not one call repeated. The resume runs on one rank because
# two ranks may ask the same question at the same moment (IO's solve is also TP's first call), which the
# server would count as a repeat although neither had an answer yet. Two items in flight, so that every
# rank still has items to start when it reaches its third (at 4 ranks the default 8 would start a rank's
# whole share of 6 at once).
start_server stop --mode noisy --error-rate 0.2 --seed 1
status=0; tp_run "$NP" "$URL_stop" "$WORK/stopped" --set debug.stop_after_items=3 --set tp.items_in_flight=2 > s1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat s1.log; fail "expected exit 75 after the stop, got $status"; }
before=$(stat_of "$URL_stop" repeated_bodies)
tp_run 1 "$URL_stop" "$WORK/stopped" > s2.log 2>&1 || { cat s2.log; fail "resume after the stop"; }
[[ $(stat_of "$URL_stop" repeated_bodies) -eq $before ]] || fail "the resumed run repeated $(( $(stat_of "$URL_stop" repeated_bodies) - before )) calls"
same_results straight/results.h5 stopped/results.h5

# (5) Killed (SIGKILL) mid-run, resumed: at most the calls in flight at the kill are asked again.
start_server kill --mode noisy --error-rate 0.2 --seed 1 --delay-ms 30
tp_run "$NP" "$URL_kill" "$WORK/killed" > k1.log 2>&1 &
killed_run=$!
for _ in $(seq 300); do [[ $(cat killed/items/*.jsonl 2>/dev/null | grep -c '"item"' || true) -ge 3 ]] && break; sleep 0.1; done
pkill -KILL -f "output.dir=$WORK/killed" || true
wait "$killed_run" || true   # not a bare wait: the scripted servers are background jobs too
done_before=$(cat killed/items/*.jsonl | grep -c '"item"' || true)
[[ $done_before -gt 0 && $done_before -lt 24 ]] || fail "the kill came too late or too early: $done_before items"
before=$(stat_of "$URL_kill" repeated_bodies)
tp_run 1 "$URL_kill" "$WORK/killed" > k2.log 2>&1 || { cat k2.log; fail "resume after the kill"; }
repeated=$(( $(stat_of "$URL_kill" repeated_bodies) - before ))
[[ $repeated -le $((4 * NP)) ]] || fail "$repeated calls repeated after the kill (at most $((4 * NP)) were in flight)"
same_results straight/results.h5 killed/results.h5
echo "killed after $done_before items; $repeated call(s) in flight at the kill were asked again"

# (6) Faults on 30% of attempts (500, then dropped connections): retried away, the same results.
start_server faults --mode noisy --error-rate 0.2 --seed 1 --fault 500 --fault-rate 0.3
tp_run "$NP" "$URL_faults" "$WORK/faults" --set llm.max_attempts=10 > f1.log 2>&1 || { cat f1.log; fail "run with 500s"; }
[[ $(stat_of "$URL_faults" faults) -gt 0 ]] || fail "no fault was injected"
same_results straight/results.h5 faults/results.h5
start_server drops --mode noisy --error-rate 0.2 --seed 1 --fault drop --fault-rate 0.3
tp_run "$NP" "$URL_drops" "$WORK/drops" --set llm.max_attempts=10 > f2.log 2>&1 || { cat f2.log; fail "run with drops"; }
same_results straight/results.h5 drops/results.h5

# (7) A server that is down: the run ends, every call recorded as a failure.
tp_run "$NP" "http://127.0.0.1:9" "$WORK/down" --set llm.max_attempts=2 > d.log 2>&1 || { cat d.log; fail "run against a dead server"; }
"$PY" -c "import h5py; f = h5py.File('down/results.h5'); assert f.attrs['complete'] == 1 and f['calls/ok'][()].max() == 0 and f.attrs['io.optimal_rate'] == 0"

# (8) Bad input: a missing API key (before any call) and a malformed problem file.
before=$(stat_of "$URL_noisy" chat_calls)
unset RELFM_TP_E2E_KEY
expect_failure 2 "the environment variable RELFM_TP_E2E_KEY is not set" "$NP" train tp.toml \
  --set "llm.endpoints=[\"$URL_noisy\"]" --set llm.api_key_env=RELFM_TP_E2E_KEY --set output.dir=nokey
[[ $(stat_of "$URL_noisy" chat_calls) -eq $before ]] || fail "calls were made without the API key"
mkdir -p problems && printf '{"nodes": [0, 1, 2], "edges": [[0, 1], [1, 2]], "distance": [1]}' > problems/0.json
expect_failure 2 "problems/0.json: field 'distance' has 1 entries but 'edges' has 2" "$NP" train tp.toml \
  --set "llm.endpoints=[\"$URL_noisy\"]" --set tp.problems_dir=problems --set output.dir=badfile
# (9) Creative writing on three of the shipped instances: every step parses, the judge scores every passage.
tp_run "$NP" "$URL_noisy" "$WORK/writing" --set tp.task=creative_writing --set 'tp.methods=["io", "cot", "tp"]' \
  --set tp.num_problems=3 > w.log 2>&1 || { cat w.log; fail "creative writing"; }
"$PY" -c "
import h5py
f = h5py.File('writing/results.h5')
assert f.attrs['complete'] == 1 and f.attrs['tp.calls_per_problem'] == 26, dict(f.attrs)
assert f['items/failed_steps'][()].sum() == 0 and f['items/judgements'][()].min() == 5
assert 1 <= f.attrs['tp.coherence_mean'] <= 10
" || fail "creative-writing results"
echo "PASS tp_e2e np=$NP ($calls_after_first calls in the first run)"
