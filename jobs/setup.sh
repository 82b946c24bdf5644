#!/bin/bash
# Installs relfm's dependencies from Debian 12's archive (as root) and builds it in ./build.
# Idempotent: a second run only rebuilds what changed. Environment: BUILD_DIR (default build),
# RELFM_CMAKE_ARGS (extra CMake options, e.g. -DRELFM_NATIVE=OFF for a portable build).
#   jobs/setup.sh [--bench]   --bench: also the benchmarks' reference peers (Debian's python3-torch,
#                             ~1 GB with its dependencies), which the tests never need
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=0
for arg in "$@"; do
  case $arg in
    --bench) BENCH=1 ;;
    *) echo "jobs/setup.sh: unknown option '$arg' (only --bench)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  cmake g++ make pkg-config
  openmpi-bin libopenmpi-dev libmetis-dev libeigen3-dev libhdf5-openmpi-dev hdf5-tools
  libgtest-dev googletest librdkit-dev libboost-dev libcli11-dev libtomlplusplus-dev
  librandom123-dev libfmt-dev libspdlog-dev nlohmann-json3-dev zlib1g-dev libssl-dev libopenblas-serial-dev
  libsvm-dev libfaiss-dev libcurl4-openssl-dev libcpp-httplib-dev
  python3 python3-h5py python3-matplotlib python3-numpy
  slurm-wlm munge
)
(( BENCH )) && PACKAGES+=(python3-torch)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "== installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

BUILD_DIR=${BUILD_DIR:-build}
echo "== building relfm in $BUILD_DIR"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${RELFM_CMAKE_ARGS:-} > /dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
