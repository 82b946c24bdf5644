#!/bin/bash
# Thought Propagation benchmarks (not tests): the LLM client's calls/s against the instant scripted server,
# the in-flight bound against a 200 ms server, and TP vs IO on the noisy scripted server with intervals.
# The scripted server is relfm_scripted_llm_server (scripted answers, not a model). Client and server run
# on the CPUs given by RELFM_BENCH_CPUS (default: core 0 only), so the client's share is a lower bound.
# Usage: tests/bench/tp_llm.sh [BUILD_DIR] [CALLS] [PROBLEMS]
set -euo pipefail
BUILD=${1:-build}
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')); cores used: ${RELFM_BENCH_CPUS:-0}"
taskset -c "${RELFM_BENCH_CPUS:-0}" "$BUILD/tests/relfm_tp_bench" "${2:-20000}" "${3:-200}"
