# Sourced by the benchmarks that measure a PyTorch reference beside relfm: stops them before the first
# measurement, with the fix, when Debian's python3-torch is missing (the tests never need it, so
# jobs/setup.sh installs it only with --bench).
if ! /usr/bin/python3 -c "import torch" 2> /dev/null; then
  echo "$(basename "$0"): its PyTorch reference needs Debian's python3-torch: run jobs/setup.sh --bench (as root)" >&2
  exit 2
fi
