#!/bin/bash
# slurm/relfm_tp.sbatch on a private one-node Slurm (slurm/local_cluster.sh): the recipe's servers start, the
# job runs against them and ends, and the servers are stopped. relfm_scripted_llm_server (scripted answers,
# not a model) stands in for llama-server through a small wrapper that takes llama-server's --port.
# Args: RELFM SOURCE_DIR SCRIPTED_SERVER. Exit 0 pass, 77 skip (no Slurm/munge or not root), 1 fail.
set -uo pipefail
relfm_bin=${1:?usage: tp_slurm_e2e.sh RELFM SOURCE_DIR SCRIPTED_SERVER}
src=${2:?}
server_bin=${3:?}
python=/usr/bin/python3
export PATH="$PATH:/usr/sbin:/sbin"
for tool in munged slurmctld slurmd sbatch srun squeue scontrol; do
  command -v "$tool" > /dev/null || { echo "SKIP: '$tool' not installed"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/relfm-tp-slurm.XXXXXX)
chmod 755 "$work"   # munged insists that every directory above its socket is searchable
# The wrapper execs the server, so a server left behind is found by its port, unique to this test.
server_pattern() { echo "relfm_scripted_llm_server --port $llama_port --mode oracle"; }
cleanup() {
  "$src/slurm/local_cluster.sh" down "$work/cluster" > /dev/null 2>&1
  [ -n "${llama_port:-}" ] && pkill -f "$(server_pattern)" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
read -r ctld_port slurmd_port llama_port < <("$python" -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
export RELFM_SLURMCTLD_PORT=$ctld_port RELFM_SLURMD_PORT=$slurmd_port
"$src/slurm/local_cluster.sh" up "$work/cluster" > "$work/cluster.log" 2>&1 || { cat "$work/cluster.log"; fail "local cluster"; }
export SLURM_CONF=$work/cluster/slurm.conf

printf '#!/bin/bash\nport=8080\nwhile [ $# -gt 0 ]; do [ "$1" = "--port" ] && port=$2; shift; done\nexec %s --port "$port" --mode oracle\n' \
  "$server_bin" > "$work/fake_llama.sh"
chmod +x "$work/fake_llama.sh"
cd "$work"
job=$(RELFM_BIN=$relfm_bin LLAMA_SERVER_BIN=$work/fake_llama.sh LLAMA_MODEL=scripted LLAMA_PORT=$llama_port \
      OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none \
      sbatch --parsable --nodes=1 --ntasks-per-node=2 --time=5 "$src/slurm/relfm_tp.sbatch" "$src/jobs/tp_shortest_path.toml" \
        --set tp.num_problems=6 --set 'tp.methods=["io", "tp"]' --set "output.dir=$work/out") || fail "sbatch"
for _ in $(seq 240); do squeue -h -j "$job" 2>/dev/null | grep -q . || break; sleep 0.5; done
log=$(ls "$work"/relfm-tp-*.out 2>/dev/null | head -1)
grep -q "relfm exited with 0" "$log" || { cat "$log" "$work"/llama-server-*.log; fail "the job did not finish"; }
"$python" -c "
import h5py
f = h5py.File('$work/out/results.h5')
assert f.attrs['complete'] == 1 and f.attrs['world_size'] == 2 and f.attrs['tp.optimal_rate'] == 1.0, dict(f.attrs)
" || fail "results"
sleep 1
pgrep -f "$(server_pattern)" > /dev/null && fail "the server outlived the job"
echo "PASS tp_slurm_e2e (job $job)"
