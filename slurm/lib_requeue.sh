# Sourced by the relfm sbatch scripts (relfm_train.sbatch, relfm_seeds_array.sbatch); not run on its own.
#
# relfm_requeueable_srun ARGS...
#   Runs `srun --mpi=pmix ARGS...` (one job step) in the background and waits for it. Meanwhile:
#   - SIGUSR1 to the batch shell (from `#SBATCH --signal=B:USR1@120` before the time limit, or from
#     `scancel --signal=USR1 --batch JOBID`) is forwarded to the job's steps, i.e. to the relfm ranks, which
#     finish their current step, write the checkpoint and exit 75;
#   - when the step exits 75 ("checkpointed, requeue me") after a SIGUSR1, or on its own (relfm's
#     debug.stop_after_steps), the job requeues itself (`scontrol requeue`): it goes back to PENDING, starts
#     again from the top of the batch script with the same arguments, and relfm's default `--resume auto`
#     continues from output.dir/checkpoint.h5;
#   - after a SIGTERM it does NOT requeue. Slurm sends SIGTERM to the batch shell and to every step when the
#     job is cancelled (scancel), hits its time limit, or is preempted/requeued by Slurm itself; relfm then
#     checkpoints (exit 75) within KillWait, and the job ends. A requeue here would resurrect a cancelled job
#     (tested: `scontrol requeue` accepts a job that scancel has just ended). Resubmitting the same command
#     resumes from the checkpoint;
#   - any other exit code is returned unchanged (0 ok, 1 internal error, 2 bad input, 3 diverged, ...).
#   Returns the step's exit code (75 when not requeued). After a successful requeue it does not return: it
#   exits the batch shell, which Slurm is about to kill anyway.
#
# How the signal is forwarded, and why (all tested on Slurm 22.05.8 with Open MPI 4.1.4 over PMIx):
#   - `--signal=B:USR1@T` and `scancel --signal=USR1 --batch` signal the batch shell only: not srun, not the
#     tasks. So the shell must pass it on.
#   - `scancel --signal=USR1 $SLURM_JOB_ID` (no --batch, no --full) signals every job step of this job (the
#     relfm tasks, via their slurmstepd) but not the batch shell, so it cannot loop back into this trap.
#     For an array task SLURM_JOB_ID is that task's own job id, so only this task is signalled. Used here.
#   - `kill -USR1 <srun pid>` also works once srun is up (srun forwards SIGUSR1 to the tasks), but a SIGUSR1
#     that reaches srun in its first milliseconds kills srun (default action) and the step with it. It is the
#     fallback when scancel fails (e.g. slurmctld unreachable).
#   - `kill -TERM <srun pid>` does NOT forward: srun takes SIGTERM as "abort", cancels the step, and the
#     tasks are SIGKILLed without a checkpoint. That is also why the time-limit signal must be B:USR1 and
#     not TERM to srun. (`scancel --signal=TERM JOBID` does deliver a plain SIGTERM to the tasks.)
#
# Knobs (environment):
#   RELFM_MAX_REQUEUES  stop requeueing once the job has restarted this many times (SLURM_RESTART_COUNT);
#                       unset or 0 = no limit. The job then ends with exit code 75 and its checkpoint.
#
# Caveats:
#   - relfm installs its signal handlers first thing, before MPI_Init; a signal that reaches a rank while
#     its process is still being exec'd (the first milliseconds of the step) would still terminate it.
#   - After SIGTERM Slurm sends SIGKILL once KillWait (slurm.conf, default 30 s) has passed: writing the
#     checkpoint must take less than that.

relfm_log() { echo "[relfm-slurm $(date '+%F %T')] $*"; }

# Forward signal $1 to the tasks of this job's steps.
_relfm_forward_signal() {
  local sig="$1"
  _relfm_signalled=1
  if [ "$sig" = TERM ]; then
    _relfm_got_term=1
    relfm_log "batch shell got SIGTERM (job cancelled, out of time, or preempted): the ranks checkpoint and the job ends without a requeue"
    # When Slurm itself ends the job it has signalled the steps already; this covers a SIGTERM sent to the
    # batch shell alone (scancel --signal=TERM --batch). Errors are expected while the job is ending.
    # In the background, so that a slow or unreachable slurmctld cannot hold up the trap.
    if [ -n "${SLURM_JOB_ID:-}" ]; then (scancel --signal=TERM "$SLURM_JOB_ID" >/dev/null 2>&1 &); fi
    return 0
  fi
  relfm_log "batch shell got SIG$sig; forwarding it to the job steps of job ${SLURM_JOB_ID:-?}"
  if [ -n "${SLURM_JOB_ID:-}" ] && scancel --signal="$sig" "$SLURM_JOB_ID"; then
    return 0
  fi
  if [ -n "${_relfm_step_pid:-}" ]; then
    relfm_log "scancel failed; sending SIG$sig to srun (pid $_relfm_step_pid), which forwards it"
    kill -"$sig" "$_relfm_step_pid" 2>/dev/null || true
  fi
}

relfm_requeueable_srun() {
  local rc
  _relfm_signalled=0
  _relfm_got_term=0
  _relfm_step_pid=
  trap '_relfm_forward_signal USR1' USR1
  trap '_relfm_forward_signal TERM' TERM
  relfm_log "job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}): srun --mpi=pmix $*"
  srun --mpi=pmix "$@" &
  _relfm_step_pid=$!
  # A trapped signal makes `wait` return early (status > 128) while srun still runs: wait again. Once srun
  # has exited, `wait` returns its saved exit status, however many signals came in between.
  while :; do
    _relfm_signalled=0
    wait "$_relfm_step_pid" && rc=0 || rc=$?   # (this form also works under set -e)
    [ "$_relfm_signalled" = 1 ] || break
  done
  trap - USR1
  # Keep ignoring the SIGTERM that Slurm sends to the batch shell when the job is requeued or ends.
  trap 'relfm_log "batch shell got SIGTERM while finishing"' TERM
  _relfm_step_pid=

  if [ "$rc" -ne 75 ]; then
    relfm_log "relfm exited with code $rc"
    return "$rc"
  fi

  if [ "$_relfm_got_term" = 1 ]; then
    relfm_log "relfm checkpointed (exit 75) after SIGTERM: not requeueing; resubmit the same command to resume"
    return 75
  fi
  local restarts="${SLURM_RESTART_COUNT:-0}" max="${RELFM_MAX_REQUEUES:-0}"
  if [ "$max" -gt 0 ] && [ "$restarts" -ge "$max" ]; then
    relfm_log "relfm checkpointed (exit 75), but the job has restarted $restarts times (RELFM_MAX_REQUEUES=$max): not requeueing"
    return 75
  fi
  relfm_log "relfm checkpointed (exit 75): requeueing job $SLURM_JOB_ID (it will resume from the checkpoint)"
  if scontrol requeue "$SLURM_JOB_ID"; then
    exit 0
  fi
  relfm_log "scontrol requeue failed (job not requeueable, or already ending); resubmit to resume"
  return 75
}
