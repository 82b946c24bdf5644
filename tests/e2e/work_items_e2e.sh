#!/bin/bash
# The work-item runner: a stopped run and a killed run resume without redoing any finished item, on any
# number of ranks, and end with the same results as a run never interrupted; a failing item stops every
# rank with one message.
source "$(dirname "$0")/lib.sh" "$@"   # RELFM is the relfm_test binary (relfm + test-only job kinds)
printf '[job]\nkind = "squares"\nname = "squares"\n[work]\nitems = 40\n[output]\ndir = "out"\nprogress = "none"\n' > squares.toml
other=$(( NP == 1 ? 2 : 1 ))

journal_lines() { cat "$1"/items/*.jsonl 2>/dev/null | grep -c '"item"' || true; }
records_equal() {  # the /items datasets and the summary of two results files are identical
  "$PY" - "$1" "$2" <<'PY' || fail "results of $1 and $2 differ"
import sys, h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
assert a.attrs["complete"] == 1 and b.attrs["complete"] == 1
assert a.attrs["sum_of_squares"] == b.attrs["sum_of_squares"] == sum(i * i for i in range(40))
for k in a["items"]:
    assert a["items"][k][()].tobytes() == b["items"][k][()].tobytes(), k
chars, offsets = a["items/sentence.chars"][()], a["items/sentence.offsets"][()]
assert bytes(chars[offsets[3]:offsets[4]]).decode() == "3 squared is 9 — «ok»"
PY
}

run "$NP" train squares.toml --set output.dir=straight > straight.log 2>&1 || { cat straight.log; fail "straight run"; }
grep -q "squares: 40/40 squares done, sum_of_squares 2.054e+04" straight.log || { cat straight.log; fail "summary line"; }
[[ $(journal_lines straight) -eq 40 ]] || fail "expected 40 journal records"

# (1) Stopped after 5 items per rank, resumed on another rank count: no item done twice.
status=0; run "$NP" train squares.toml --set output.dir=stopped --set debug.stop_after_items=5 > s1.log 2>&1 || status=$?
[[ $status -eq 75 ]] || { cat s1.log; fail "expected exit 75, got $status"; }
first=$(journal_lines stopped)
[[ $first -eq $((5 * NP)) ]] || fail "expected $((5 * NP)) records after the stop, got $first"
"$PY" -c "import h5py; f = h5py.File('stopped/results.h5'); assert f.attrs['complete'] == 0 and f.attrs['items_done'] == $first"
run "$other" train squares.toml --set output.dir=stopped > s2.log 2>&1 || { cat s2.log; fail "resume"; }
[[ $(journal_lines stopped) -eq 40 ]] || fail "items were redone: $(journal_lines stopped) records for 40 items"
records_equal straight/results.h5 stopped/results.h5

# (2) Killed (SIGKILL, no chance to clean up) mid-run, with a torn last line; resumed.
# The absolute output path makes the kill pattern unique to this test (ctest runs other rank counts at once).
run "$NP" train squares.toml --set output.dir="$WORK/killed" --set work.pause_ms=200 > k1.log 2>&1 &
for _ in $(seq 300); do [[ $(journal_lines killed) -ge 2 ]] && break; sleep 0.1; done   # some items are done
pkill -KILL -f "output.dir=$WORK/killed" || true
wait || true
before=$(journal_lines killed)
[[ $before -gt 0 && $before -lt 40 ]] || fail "the kill came too late or too early: $before records"
printf '{"item": 39, "numb' >> "$(ls killed/items/*.jsonl | head -1)"   # a torn write
run "$NP" train squares.toml --set output.dir=killed > k2.log 2>&1 || { cat k2.log; fail "resume after kill"; }
[[ $(journal_lines killed) -eq 40 ]] || fail "after the kill: $(journal_lines killed) records for 40 items"
records_equal straight/results.h5 killed/results.h5

# (2b) Items of uneven cost: the even ones are slow, and the first deal gives them all to the even ranks.
# The ranks re-deal the items not yet started, so the odd ranks, done with their fast share, take over
# part of the slow ones instead of waiting: they journal more than their first share (40 / NP items).
if (( NP > 1 )); then
  run "$NP" train squares.toml --set output.dir=uneven --set work.pause_even_ms=40 > u.log 2>&1 || { cat u.log; fail "uneven run"; }
  records_equal straight/results.h5 uneven/results.h5
  for ((r = 1; r < NP; r += 2)); do
    took=$(grep -c '"item"' uneven/items/journal-p"$NP"-r"$r"-from0.jsonl || true)
    [[ $took -gt $((40 / NP)) ]] || fail "rank $r did only $took items of 40 / $NP: the slow items were not re-dealt"
  done
fi

# (3) A changed key that makes the records meaningless blocks the resume; a failing item stops everyone.
expect_failure 2 "work.items = 40 in the checkpoint, 41 now" "$NP" train squares.toml --set output.dir=stopped --set work.items=41
expect_failure 2 "squares: item 7 is the configured failure" "$NP" train squares.toml --set output.dir=failing --set work.fail_at_item=7
run 1 inspect straight/results.h5 > inspect.log || fail "inspect"
grep -q "40 of 40" inspect.log || { cat inspect.log; fail "inspect summary"; }
echo "PASS work_items_e2e np=$NP"
