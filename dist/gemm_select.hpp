// Every rank runs the same GEMM backend: rank 0's choice (src/tensor/gemm.hpp) becomes everyone's.
//
// Why: auto selection times the candidates on each rank, and two close candidates can swap places between
// ranks; the ranks' replicas must stay bit-identical, so they must multiply with the same kernel.
#pragma once

#include "dist/comm.hpp"
#include "src/tensor/gemm.hpp"

#include <string>

namespace relfm::dist {

// Broadcasts rank 0's pending GEMM decision (gemm::apply_gemm_request) and activates it on every rank,
// each rank checking it against the double-precision reference. If the check fails on any rank, every
// rank throws the same CollectiveError naming the first failing rank (kInput when the backend was forced).
// Collective; returns the selection this rank now runs.
const gemm::Selection& agree_gemm_backend(const Comm& comm);

// apply_gemm_request(request) on every rank (an unknown or failed forced backend is a collective input
// error), then agree_gemm_backend(comm). `request` is the job key's value ("auto", "eigen", "openblas",
// "openblas:<Core>"); RELFM_GEMM takes precedence when set.
const gemm::Selection& select_gemm_backend(const Comm& comm, const std::string& request = "auto",
                                           const std::string& source = "job key");

}  // namespace relfm::dist
