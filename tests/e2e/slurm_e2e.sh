#!/bin/bash
# End-to-end test of the Slurm scripts in slurm/: a private one-node Slurm cluster, real relfm jobs.
#
#   tests/e2e/slurm_e2e.sh [SOURCE_DIR]
#
# The repository (for slurm/*.sh, slurm/*.sbatch, jobs/gin_bbbp.toml): SOURCE_DIR, else $RELFM_SOURCE_DIR,
# else the repository this file is in. Environment:
#   RELFM_BIN              the relfm binary (default /work/main/build/jobs/relfm)
#   RELFM_PYTHON           a Python with h5py and numpy (default /usr/bin/python3)
#   RELFM_E2E_JOB_TIMEOUT  seconds for each wait on a job (default 240)
#   RELFM_E2E_TIMEOUT      seconds for the whole test (default 540). Keep it below ctest's TIMEOUT, so that
#                          the test, not ctest, ends a stuck run and stops the daemons it started.
#   RELFM_E2E_KEEP=1       keep the work dir (/tmp/relfm-slurm-e2e.*) on success too (always kept on failure)
# Runtime measured here: 37-59 s on 2 cores shared with other training runs.
#
# Exit: 0 pass; 77 skip (slurm/munge/h5py missing, or not root); 1 fail (the message says what).
#
# Steps:
#   (a) sbatch slurm/relfm_train.sbatch with a small GIN config (bbbp, hidden 32, 2 layers, 1 seed) on 2
#       ranks; check results.h5 (format, seeds_completed, world_size, every epoch, finite metrics in [0,1]).
#   (b) the same config into a fresh output dir; once results.h5 exists (first epoch done), send SIGUSR1 to
#       the batch shell (as --signal=B:USR1@120 would). The script forwards it, relfm checkpoints and exits
#       75, the job requeues itself and resumes. Check: Restarts >= 1, COMPLETED, and every metric array
#       and summary value bit-identical to run (a), which ran uninterrupted.
#   (c) slurm/relfm_seeds_array.sbatch as a 2-task array (--array=0-1) with the tiny config: each task
#       trains its own seed into <base>/seed_N; `relfm merge` collects both into one results file.
#   (d) slurm/molgroup_pairs.sbatch as a 4-task array over 2 data sets (freesolv, bace; tiny gin_group
#       runs): the two pairs and the two targets alone; molgroup_pairs.py gathers them into pairs.h5 and
#       a heat-map PNG, and `relfm inspect` summarises pairs.h5.
# All jobs need the node's 2 cores, so Slurm runs them one after another; (c) is submitted while (b)
# waits out its requeue delay. The daemons are always stopped at exit (by PID, via local_cluster.sh down).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${1:-${RELFM_SOURCE_DIR:-$(cd "$here/../.." && pwd)}}"
relfm_bin="${RELFM_BIN:-/work/main/build/jobs/relfm}"
python="${RELFM_PYTHON:-/usr/bin/python3}"
job_timeout="${RELFM_E2E_JOB_TIMEOUT:-240}"
total_timeout="${RELFM_E2E_TIMEOUT:-540}"
cluster="$src/slurm/local_cluster.sh"
t_start=$SECONDS

log() { echo "[slurm_e2e +$((SECONDS - t_start))s] $*"; }
skip() { echo "[slurm_e2e] SKIP: $*"; exit 77; }
fail() { echo "[slurm_e2e] FAIL: $*" >&2; exit 1; }

# ---- prerequisites: missing tools skip the test, a missing relfm or repo fails it ----
export PATH="$PATH:/usr/sbin:/sbin"
for tool in munged slurmctld slurmd sbatch srun scontrol squeue scancel sinfo; do
  command -v "$tool" >/dev/null || skip "'$tool' not installed (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root (the test cluster runs its daemons and jobs as root)"
"$python" -c 'import h5py, numpy' 2>/dev/null || skip "$python has no h5py/numpy (apt-get install python3-h5py)"
[ -x "$relfm_bin" ] || fail "relfm binary '$relfm_bin' is missing or not executable (set RELFM_BIN)"
for f in "$cluster" "$src/slurm/relfm_train.sbatch" "$src/slurm/relfm_seeds_array.sbatch" "$src/slurm/molgroup_pairs.sbatch" \
         "$src/slurm/lib_requeue.sh" "$src/jobs/gin_bbbp.toml"; do
  [ -f "$f" ] || fail "'$f' not found (pass the repository as RELFM_SOURCE_DIR or the first argument)"
done
relfm_bin="$(cd "$(dirname "$relfm_bin")" && pwd)/$(basename "$relfm_bin")"

# Slurm variables from the caller's shell or an enclosing job (SBATCH_* inputs such as a partition,
# SLURM_CONF, SLURM_JOB_ID of a CI job) must not leak into the test cluster's commands and jobs.
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC|SQUEUE|SINFO|SCONTROL)_')
unset RELFM_SLURM_DIR RELFM_OUTPUT_BASE RELFM_MAX_REQUEUES

work="$(mktemp -d /tmp/relfm-slurm-e2e.XXXXXX)"
chmod 0755 "$work"   # munged wants o+x on every directory above its socket
readonly cluster_dir="$work/cluster"
cluster_started=0
daemon_pids=""

cleanup() {
  local rc=$? pid left=""
  trap - EXIT INT TERM
  if [ "$cluster_started" = 1 ]; then
    log "stopping the test cluster"
    "$cluster" down "$cluster_dir" || rc=1
    # Every daemon this test started must be gone (zombies awaiting PID 1's reaping count as gone).
    for pid in $daemon_pids; do
      if [ -r "/proc/$pid/stat" ] && [ "$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)" != Z ]; then
        left="$left $pid"
      fi
    done
    if [ -n "$left" ]; then
      echo "[slurm_e2e] FAIL: daemons still running after 'local_cluster.sh down': $left; killing them" >&2
      for pid in $left; do
        case "$(cat "/proc/$pid/comm" 2>/dev/null)" in munged|slurmctld|slurmd) kill -KILL "$pid" 2>/dev/null ;; esac
      done
      rc=1
    fi
  fi
  if [ "$rc" -eq 0 ] && [ "${RELFM_E2E_KEEP:-0}" != 1 ]; then
    cd / && rm -rf "$work"
  else
    echo "[slurm_e2e] work dir kept for inspection: $work (logs: $work/*.out, $cluster_dir/log, $cluster_dir/munge)"
  fi
  log "exit $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the cluster: fresh state dir, free ports (another cluster may use Slurm's default 6817/6818) ----
read -r ctld_port slurmd_port < <("$python" - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*[s.getsockname()[1] for s in socks])
EOF
)
export RELFM_SLURMCTLD_PORT="$ctld_port" RELFM_SLURMD_PORT="$slurmd_port"
cluster_started=1
"$cluster" up "$cluster_dir" || fail "the test cluster did not come up (logs in $cluster_dir/log)"
for f in "$cluster_dir/munge/munged.pid" "$cluster_dir/run/slurmctld.pid" "$cluster_dir/run/slurmd.pid"; do
  daemon_pids="$daemon_pids $(tr -dc '0-9' < "$f")"
done
export SLURM_CONF="$cluster_dir/slurm.conf"
log "cluster up (ports $ctld_port/$slurmd_port, daemons$daemon_pids)"

# The jobs inherit this environment (sbatch --export=ALL). RELFM_SLURM_DIR stays unset: the scripts must
# find lib_requeue.sh themselves.
export RELFM_BIN="$relfm_bin"
export OMPI_MCA_btl_vader_single_copy_mechanism=none   # faster shared memory in this sandbox (stack.md §6)
cd "$work" || fail "cannot cd to $work"

"$relfm_bin" shard --dataset bbbp --out "$work/bbbp.h5" >/dev/null || fail "relfm shard --dataset bbbp failed"
mkdir -p "$work/shards"
for d in freesolv bace; do
  "$relfm_bin" shard --dataset "$d" --out "$work/shards/$d.h5" >/dev/null || fail "relfm shard --dataset $d failed"
done

job_file="$src/jobs/gin_bbbp.toml"
small=(--set "data.shard=$work/bbbp.h5" --set model.hidden=32 --set model.layers=2
       --set "train.seeds=[0]" --set output.progress=lines)
# Long enough that the SIGUSR1 of (b), sent once epoch 1 is written, reaches relfm well before its last
# epoch: an epoch takes ~30 ms on an idle 2-core machine (so ~1.7 s of margin against ~0.3 s for the
# signal's trip: test -> slurmctld -> batch shell -> scancel -> slurmctld -> tasks), longer under load.
# (b) says so plainly if the signal came too late.
epochs_ab=60
epochs_array=4

# ---- helpers ----
# A deadline for one wait: job_timeout from now, but never past the whole test's deadline.
deadline_in() {
  local d=$((SECONDS + $1)) end=$((t_start + total_timeout))
  echo $((d < end ? d : end))
}

# "KEY=value" fields of one job (first record if several).
job_field() { scontrol show job -o "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# Wait until every record of job/array $1 is in a final state; fail on timeout or a held job.
wait_job() {
  local jid="$1" what="$2" deadline states
  deadline="$(deadline_in "$job_timeout")"
  while :; do
    states="$(scontrol show job -o "$jid" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sed 's/JobState=//' | sort -u | tr '\n' ' ')"
    [ -n "$states" ] || fail "$what: job $jid unknown to slurmctld"
    if ! echo "$states" | grep -qE 'PENDING|RUNNING|REQUEUE|CONFIGURING|COMPLETING|SUSPENDED|RESIZING|SIGNALING|STAGE_OUT'; then
      return 0
    fi
    if scontrol show job -o "$jid" | grep -qE 'Reason=(JobHeld|launch_failed|BadConstraints|PartitionConfig)'; then
      fail "$what: job $jid is stuck: $(scontrol show job -o "$jid" | grep -oE 'JobState=[^ ]+ Reason=[^ ]+' | tr '\n' ' ')"
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: job $jid not finished in time (states: $states); logs: $(echo "$work"/*.out)"
    sleep 0.5
  done
}

expect_completed() {
  local jid="$1" what="$2" out="$3" job_state exit_code
  job_state="$(job_field "$jid" JobState)"; exit_code="$(job_field "$jid" ExitCode)"
  if [ "$job_state" != COMPLETED ] || [ "$exit_code" != 0:0 ]; then
    echo "---- $out ----" >&2; cat "$out" >&2 2>/dev/null
    fail "$what: job $jid ended $job_state with ExitCode $exit_code (expected COMPLETED 0:0)"
  fi
}

# check_results FILE EPOCHS SEED: the results file of a finished one-seed, two-rank run.
check_results() {
  "$python" - "$@" <<'EOF' || fail "results check failed for $1"
import sys, h5py, numpy as np
path, epochs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
problems = []
def check(cond, msg):
    if not cond: problems.append(msg)
def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)
with h5py.File(path, "r") as f:
    a = f.attrs
    check(text(a.get("format")) == "relfm.results", f"format is {a.get('format')!r}")
    check(int(a.get("seeds_completed", -1)) == 1, f"seeds_completed = {a.get('seeds_completed')}")
    check(int(a.get("num_seeds", -1)) == 1, f"num_seeds = {a.get('num_seeds')}")
    check(int(a.get("world_size", -1)) == 2, f"world_size = {a.get('world_size')}")
    for k in ("summary_mean", "summary_std"):
        v = float(a.get(k, np.nan))
        check(np.isfinite(v), f"{k} = {v}")
    check(0.0 <= float(a.get("summary_mean", np.nan)) <= 1.0, f"summary_mean = {a.get('summary_mean')} outside [0,1]")
    check(list(f["/summary/seed"][()]) == [seed], f"/summary/seed = {list(f['/summary/seed'][()])}, expected [{seed}]")
    check(list(f["/summary/completed"][()]) == [1], f"/summary/completed = {list(f['/summary/completed'][()])}")
    t = f["/summary/report_at_best"][()]
    check(t.shape == (1,) and np.all(np.isfinite(t)) and np.all((0 <= t) & (t <= 1)), f"/summary/report_at_best = {t}")
    g = f[f"/seeds/{seed}"]
    ep = g["epoch"][()]
    check(list(ep) == list(range(1, epochs + 1)), f"epochs recorded: {list(ep)}, expected 1..{epochs}")
    for name in ("test_rocauc", "valid_rocauc"):
        v = g[name][()]
        check(v.shape == (epochs,), f"{name} has shape {v.shape}")
        check(np.all(np.isfinite(v)) and np.all((0 <= v) & (v <= 1)), f"{name} not finite in [0,1]: {v}")
    loss = g["train_loss"][()]
    check(loss.shape == (epochs,) and np.all(np.isfinite(loss)) and np.all(loss > 0), f"train_loss: {loss}")
if problems:
    print(f"{path}:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
EOF
}

# ---- (a) one uninterrupted run through relfm_train.sbatch ----
out_a="$work/run_a"
jid_a="$(sbatch --parsable --job-name=e2e-a "$src/slurm/relfm_train.sbatch" "$job_file" "${small[@]}" \
         --set "train.epochs=$epochs_ab" --set "output.dir=$out_a")" || fail "(a): sbatch failed"
log "(a) submitted job $jid_a: $epochs_ab epochs, uninterrupted"
wait_job "$jid_a" "(a)"
expect_completed "$jid_a" "(a)" "$work/e2e-a-$jid_a.out"
[ "$(job_field "$jid_a" Restarts)" = 0 ] || fail "(a): job $jid_a restarted though nothing signalled it"
check_results "$out_a/results.h5" "$epochs_ab" 0
log "(a) ok: COMPLETED, results.h5 valid"

# ---- (b) the same run, checkpointed by SIGUSR1 to the batch shell, requeued, resumed ----
out_b="$work/run_b"
jid_b="$(sbatch --parsable --job-name=e2e-b "$src/slurm/relfm_train.sbatch" "$job_file" "${small[@]}" \
         --set "train.epochs=$epochs_ab" --set "output.dir=$out_b")" || fail "(b): sbatch failed"
log "(b) submitted job $jid_b; waiting for its first epoch"
deadline="$(deadline_in "$job_timeout")"
until [ -e "$out_b/results.h5" ]; do   # written (atomically) after each epoch; only stat it here
  job_state="$(job_field "$jid_b" JobState)"
  case "$job_state" in PENDING|RUNNING|CONFIGURING) ;; *) fail "(b): job $jid_b is $job_state before writing results.h5" ;; esac
  [ "$SECONDS" -lt "$deadline" ] || fail "(b): no results.h5 in time"
  sleep 0.1
done
# The batch shell gets SIGUSR1 exactly as from --signal=B:USR1@120. Retry briefly if slurmctld is busy.
for attempt in 1 2 3 4 5; do
  scancel --signal=USR1 --batch "$jid_b" && break
  [ "$attempt" = 5 ] && fail "(b): scancel --signal=USR1 --batch $jid_b failed"
  sleep 0.2
done
log "(b) sent SIGUSR1 to the batch shell of job $jid_b"

# ---- (c) submitted now: it can use the node while (b) waits out its requeue delay ----
base_c="$work/array"
jid_c="$(sbatch --parsable --job-name=e2e-c --array=0-1 "$src/slurm/relfm_seeds_array.sbatch" "$job_file" \
         "${small[@]}" --set "train.epochs=$epochs_array" --set "output.dir=$base_c")" || fail "(c): sbatch failed"
log "(c) submitted array job $jid_c (seeds 0 and 1, $epochs_array epochs)"

wait_job "$jid_b" "(b)"
out_log_b="$work/e2e-b-$jid_b.out"
expect_completed "$jid_b" "(b)" "$out_log_b"
restarts="$(job_field "$jid_b" Restarts)"
if [ "${restarts:-0}" -lt 1 ]; then
  echo "---- $out_log_b ----" >&2; cat "$out_log_b" >&2
  if ! grep -q "relfm checkpointed (exit 75)" "$out_log_b"; then
    fail "(b): relfm finished before the SIGUSR1 reached it (make the run longer: epochs_ab in $0)"
  fi
  fail "(b): relfm checkpointed but job $jid_b was not requeued (Restarts=$restarts)"
fi
# The lines lib_requeue.sh logs on the way: signal forwarded, exit 75 seen, requeue, second start.
for line in "batch shell got SIGUSR1" "relfm checkpointed (exit 75): requeueing job $jid_b" "job $jid_b (restart 1)"; do
  grep -qF "$line" "$out_log_b" || fail "(b): '$line' missing from $out_log_b"
done
check_results "$out_b/results.h5" "$epochs_ab" 0
log "(b) ok: SIGUSR1 -> checkpoint (exit 75) -> requeued (Restarts=$restarts) -> resumed -> COMPLETED"

# Bit-for-bit equality with the uninterrupted run (a): the metric arrays and the summary.
"$python" - "$out_a/results.h5" "$out_b/results.h5" <<'EOF' || fail "(b): the resumed run's results differ from the uninterrupted run's (see above)"
import sys, h5py, numpy as np
ref_path, got_path = sys.argv[1:3]
names = ["seeds/0/epoch", "seeds/0/train_loss", "seeds/0/valid_rocauc", "seeds/0/test_rocauc",
         "summary/seed", "summary/completed", "summary/best_epoch", "summary/best_select", "summary/report_at_best"]
bad = []
with h5py.File(ref_path, "r") as ref, h5py.File(got_path, "r") as got:
    for n in names:
        if n not in ref or n not in got:
            if n in ref or n in got:
                bad.append(f"{n}: present in only one file")
            continue
        x, y = ref[n][()], got[n][()]
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            where = ""
            if x.shape == y.shape and x.ndim == 1:
                idx = [i for i in range(len(x)) if x[i:i+1].tobytes() != y[i:i+1].tobytes()]
                where = f" at index {idx[:10]}" + (f", e.g. {x[idx[0]]!r} vs {y[idx[0]]!r}" if idx else "")
            bad.append(f"{n}: differs{where}")
    for k in ("summary_mean", "summary_std", "select_mean", "select_std", "seeds_completed"):
        if k in ref.attrs and np.asarray(ref.attrs[k]).tobytes() != np.asarray(got.attrs.get(k)).tobytes():
            bad.append(f"@{k}: {ref.attrs[k]!r} vs {got.attrs.get(k)!r}")
if bad:
    print("uninterrupted (a) vs checkpointed+resumed (b):", *bad, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print("bit-identical:", ", ".join(names))
EOF
log "(b) ok: results bit-identical to (a)"

# ---- (c) the array ----
wait_job "$jid_c" "(c)"
for task in 0 1; do
  out_log_c="$work/e2e-c-${jid_c}_$task.out"
  task_jid="$(scontrol show job -o "$jid_c" | grep "ArrayTaskId=$task " | grep -o '^JobId=[0-9]*' | sed 's/JobId=//')"
  [ -n "$task_jid" ] || fail "(c): no record of array task $task of job $jid_c"
  expect_completed "$task_jid" "(c) task $task" "$out_log_c"
  check_results "$base_c/seed_$task/results.h5" "$epochs_array" "$task"
done
"$python" - "$base_c/seed_0/results.h5" "$base_c/seed_1/results.h5" <<'EOF' || fail "(c): seeds 0 and 1 gave identical training curves: the seed override did not take effect"
import sys, h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
sys.exit(0 if a["/seeds/0/train_loss"][()].tobytes() != b["/seeds/1/train_loss"][()].tobytes() else 1)
EOF
# The array's seeds, merged into one results file as the script's header tells users to.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$relfm_bin" merge "$base_c"/seed_*/results.h5 --out "$base_c/results.h5" \
  > "$work/merge_c.log" 2>&1 || { cat "$work/merge_c.log"; fail "(c): relfm merge of the array's seeds"; }
"$python" - "$base_c/results.h5" <<'EOF' || fail "(c): the merged results do not hold both seeds"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert list(f["/summary/seed"][()]) == [0, 1] and f.attrs["seeds_completed"] == 2, dict(f.attrs)
EOF
log "(c) ok: array tasks 0 and 1 trained seeds 0 and 1 into $base_c/seed_{0,1}, merged into $base_c/results.h5"

# ---- (d) the pairwise study ----
base_d="$work/pairs"
jid_d="$(RELFM_PAIR_DATASETS=freesolv,bace RELFM_OUTPUT_BASE="$base_d" sbatch --parsable --job-name=e2e-d --array=0-3 \
         "$src/slurm/molgroup_pairs.sbatch" "$src/jobs/gin_group.toml" --set "data.shard_dir=$work/shards" \
         --set model.hidden=32 --set model.layers=2 --set train.epochs=2 --set "train.seeds=[0]" --set output.progress=lines)" \
  || fail "(d): sbatch failed"
log "(d) submitted array job $jid_d (2 x 2 cells)"
wait_job "$jid_d" "(d)"
for cell in freesolv__alone freesolv__bace bace__freesolv bace__alone; do
  [ -f "$base_d/$cell/results.h5" ] || { cat "$work"/e2e-d-*.out >&2; fail "(d): no results for cell $cell"; }
done
"$python" "$src/io/analysis/molgroup_pairs.py" "$base_d" --datasets freesolv,bace || fail "(d): gathering the pairs failed"
[ -s "$base_d/heatmap.png" ] || fail "(d): no heat-map"
"$python" - "$base_d/pairs.h5" <<'EOF' || fail "(d): pairs.h5"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert [n.decode() if isinstance(n, bytes) else n for n in f["datasets"][()]] == ["freesolv", "bace"]
g, s = f["relative_gain"][()], f["score"][()]
assert np.isfinite(g).all() and (np.diag(g) == 0).all(), g
# freesolv is RMSE (lower is better): the gain's sign is turned; bace is ROC-AUC.
assert abs(g[0, 1] - (s[0, 0] - s[0, 1]) / s[0, 0]) < 1e-12 and abs(g[1, 0] - (s[1, 0] - s[1, 1]) / s[1, 1]) < 1e-12
EOF
inspect_out="$("$relfm_bin" inspect "$base_d/pairs.h5")" || fail "(d): relfm inspect pairs.h5"
grep -q "relative gain" <<<"$inspect_out" || { echo "$inspect_out" >&2; fail "(d): inspect summary"; }
# One row gathered alone (tests/bench/molgroup_pairs.sh): the other rows are NaN and not reported missing.
rm -rf "$base_d/bace__freesolv" "$base_d/bace__alone"
"$python" "$src/io/analysis/molgroup_pairs.py" "$base_d" --datasets freesolv,bace --targets freesolv --out "$base_d/row.h5" \
  --png "$base_d/row.png" || fail "(d): gathering one row failed"
[ -s "$base_d/row.png" ] || fail "(d): no heat-map of the row"
"$python" - "$base_d/row.h5" <<'EOF' || fail "(d): row.h5"
import sys, h5py, numpy as np
g = h5py.File(sys.argv[1], "r")["relative_gain"][()]
assert np.isfinite(g[0]).all() and np.isnan(g[1]).all(), g
EOF
row_out="$("$relfm_bin" inspect "$base_d/row.h5")" || fail "(d): relfm inspect row.h5"
# The target not run is named once, not printed as a row of nan.
{ grep -q "targets not run (their rows are empty): bace" <<<"$row_out" && ! grep -qi "nan" <<<"$row_out"; } \
  || { echo "$row_out" >&2; fail "(d): inspect of one row"; }
if "$python" "$src/io/analysis/molgroup_pairs.py" "$base_d" --datasets freesolv,bace --targets esol 2>/dev/null; then
  fail "(d): a target outside --datasets was accepted"
fi
log "(d) ok: 4 cells, pairs.h5 and heatmap.png gathered; one row alone"

log "PASS"
