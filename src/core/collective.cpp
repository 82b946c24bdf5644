#include "src/core/collective.hpp"

#include <cstring>

namespace relfm {
namespace {

// On one process every neighbour edge is a self loop: the k-th destination's block is the k-th source's.
class LocalNeighbourhood final : public Neighbourhood {
 public:
  LocalNeighbourhood(std::vector<int> sources, std::vector<int> destinations)
      : Neighbourhood(std::move(sources), std::move(destinations)) {
    RELFM_CHECK(this->sources().size() == this->destinations().size(),
                "one-rank neighbourhood with {} sources and {} destinations", this->sources().size(),
                this->destinations().size());
    for (int r : this->sources()) RELFM_CHECK(r == 0, "neighbour rank {} on one rank", r);
    for (int r : this->destinations()) RELFM_CHECK(r == 0, "neighbour rank {} on one rank", r);
  }

 protected:
  void exchange_raw(const void* send, const int64_t* send_counts, void* recv, const int64_t* recv_counts,
                    DataType type) const override {
    const size_t bytes = data_type_size(type);
    size_t offset = 0;
    for (size_t k = 0; k < sources().size(); ++k) {
      RELFM_CHECK(send_counts[k] == recv_counts[k], "neighbour exchange on one rank: edge {} sends {}, expects {}", k,
                  send_counts[k], recv_counts[k]);
      std::memmove(static_cast<char*>(recv) + offset, static_cast<const char*>(send) + offset,
                   static_cast<size_t>(send_counts[k]) * bytes);
      offset += static_cast<size_t>(send_counts[k]) * bytes;
    }
  }
};

}  // namespace

std::unique_ptr<Neighbourhood> LocalCommunicator::neighbourhood(const std::vector<int>& sources,
                                                                const std::vector<int>& destinations) const {
  return std::make_unique<LocalNeighbourhood>(sources, destinations);
}

void LocalCommunicator::copy(const void* from, void* to, int64_t count, DataType type) {
  if (count > 0 && from != to) std::memmove(to, from, static_cast<size_t>(count) * data_type_size(type));
}

}  // namespace relfm
