#!/bin/bash
# The whole test suite on a fresh Debian 12 machine: install, build, then every ctest test (unit suites,
# MPI suites at 1, 2 and 4 ranks, end-to-end runs, and the sbatch run on a local one-node Slurm).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs/setup.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
