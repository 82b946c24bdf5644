#include "dist/data_parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace relfm::dist {

void broadcast_parameters(const Comm& comm, ParamStore<float>& store, int root, bool include_buffers) {
  for (Parameter<float>* p : store.all())
    if (p->trainable || include_buffers) comm.broadcast(p->value.data(), static_cast<size_t>(p->value.size()), root);
}

void average_buffers(const Comm& comm, ParamStore<float>& store) {
  if (comm.size() == 1) return;
  const float inv = 1.0f / static_cast<float>(comm.size());
  for (Parameter<float>* p : store.all()) {
    if (p->trainable) continue;
    comm.allreduce_sum(p->value.data(), static_cast<size_t>(p->value.size()));
    p->value *= inv;
  }
}

uint64_t parameter_fingerprint(const ParamStore<float>& store) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const Parameter<float>* p : store.all()) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(p->value.data());
    for (size_t i = 0; i < static_cast<size_t>(p->value.size()) * sizeof(float); ++i) h = (h ^ bytes[i]) * 0x100000001b3ULL;
  }
  return h;
}

GradientAllReducer::GradientAllReducer(const Comm& comm, std::vector<Parameter<float>*> params, size_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  int64_t total = 0;
  for (const auto* p : params_) total += p->value.size();
  const size_t cap = std::max<size_t>(1, bucket_bytes / sizeof(float));
  bucket_.assign(std::min<size_t>(cap, static_cast<size_t>(std::max<int64_t>(total, 1))), 0.0f);  // touched now
  num_buckets_ = (total + static_cast<int64_t>(bucket_.size()) - 1) / static_cast<int64_t>(bucket_.size());
}

void GradientAllReducer::allreduce(float scale) {
  const auto start = std::chrono::steady_clock::now();
  for (auto* p : params_)
    if (!p->has_grad) {
      p->grad.setZero(p->value.rows(), p->value.cols());
      p->has_grad = true;
    }
  if (comm_.size() > 1) {
    // Walk all gradients as one logical vector, a bucket at a time: pack, sum, unpack (scaled).
    const size_t cap = bucket_.size();
    size_t param = 0, offset = 0;  // read position
    while (param < params_.size()) {
      struct Piece {
        float* data;
        size_t count;
      };
      std::vector<Piece> pieces;
      size_t filled = 0;
      while (filled < cap && param < params_.size()) {
        float* g = params_[param]->grad.data();
        const size_t size = static_cast<size_t>(params_[param]->grad.size());
        const size_t take = std::min(cap - filled, size - offset);
        std::memcpy(bucket_.data() + filled, g + offset, take * sizeof(float));
        pieces.push_back({g + offset, take});
        filled += take;
        offset += take;
        if (offset == size) {
          ++param;
          offset = 0;
        }
      }
      comm_.allreduce_sum(bucket_.data(), filled);
      size_t pos = 0;
      for (const Piece& piece : pieces) {
        for (size_t k = 0; k < piece.count; ++k) piece.data[k] = bucket_[pos + k] * scale;
        pos += piece.count;
      }
    }
  } else if (scale != 1.0f) {
    for (auto* p : params_) p->grad *= scale;
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace relfm::dist
