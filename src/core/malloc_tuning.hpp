// Large tensors are allocated and freed every step; keep freed memory in the heap instead of returning it
// to the kernel, because re-faulting pages costs ~11 us per 4 KB here (research/systems_anchors.md §5).
// Every relfm process calls this at start (the MPI runtime, the benchmarks).
#pragma once

#include <malloc.h>

namespace relfm {

inline void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  // Never trim the heap: a training step frees its whole tape at once, so any finite threshold below the
  // step's footprint hands the pages back at every step end and the next step faults them all in again
  // (a ListOps step of 32 sequences: ~120,000 faults, 1.3 s of clearing pages, with a 1 GB threshold).
  mallopt(M_TRIM_THRESHOLD, -1);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace relfm
