#include "dist/comm.hpp"

#include <algorithm>
#include <limits>
#include <cstring>
#include <functional>

namespace relfm::dist {

template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <> MPI_Datatype mpi_type<int32_t>() { return MPI_INT32_T; }
template <> MPI_Datatype mpi_type<int64_t>() { return MPI_INT64_T; }
template <> MPI_Datatype mpi_type<uint64_t>() { return MPI_UINT64_T; }
template <> MPI_Datatype mpi_type<uint8_t>() { return MPI_UINT8_T; }
template <> MPI_Datatype mpi_type<char>() { return MPI_CHAR; }

MPI_Datatype mpi_type(DataType type) {
  switch (type) {
    case DataType::kFloat: return MPI_FLOAT;
    case DataType::kDouble: return MPI_DOUBLE;
    case DataType::kInt32: return MPI_INT32_T;
    case DataType::kInt64: return MPI_INT64_T;
    case DataType::kUInt64: return MPI_UINT64_T;
    case DataType::kUInt8: return MPI_UINT8_T;
    case DataType::kChar: return MPI_CHAR;
  }
  fail("no MPI datatype for DataType {}", static_cast<int>(type));
}

namespace {

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  fail("no MPI operation for ReduceOp {}", static_cast<int>(op));
}

int rank_of(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}
int size_of(MPI_Comm comm) {
  int s = 1;
  MPI_Comm_size(comm, &s);
  return s;
}

// Frees a communicator we created, unless MPI is already finalised (a static outliving MPI_Finalize).
void free_comm(MPI_Comm& comm) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
}

char* at(void* base, int64_t elements, size_t bytes) {
  return static_cast<char*>(base) + static_cast<size_t>(elements) * bytes;
}
const char* at(const void* base, int64_t elements, size_t bytes) {
  return static_cast<const char*>(base) + static_cast<size_t>(elements) * bytes;
}

// Round k of a message sent in rounds of at most `piece` elements per rank: each rank's share of the
// round in c, and the round's total.
int64_t round_counts(const int64_t* counts, size_t n, int64_t k, int64_t piece, std::vector<int>& c) {
  int64_t total = 0;
  for (size_t r = 0; r < n; ++r) total += c[r] = static_cast<int>(std::clamp<int64_t>(counts[r] - k * piece, 0, piece));
  return total;
}

std::vector<int64_t> offsets_of(const int64_t* counts, size_t n) {
  std::vector<int64_t> off(n + 1, 0);
  for (size_t i = 0; i < n; ++i) off[i + 1] = off[i] + counts[i];
  return off;
}

// One MPI call of a v-exchange (alltoallv or its neighbourhood form), with int counts and displacements.
using VCall = std::function<void(const void* send, const int* send_counts, const int* send_displs, void* recv,
                                 const int* recv_counts, const int* recv_displs)>;

// A personalised exchange with 64-bit counts over `comm`: in one call when every rank's message fits,
// otherwise in rounds, each moving at most `piece` elements per peer through staging buffers. Senders and
// receivers must cut the same pieces, so piece and the number of rounds come from values agreed over
// `comm` (its largest per-rank peer count and per-peer message).
void exchange_in_rounds(MPI_Comm comm, int64_t max_count, const void* send, const int64_t* send_counts,
                        size_t num_send, void* recv, const int64_t* recv_counts, size_t num_recv, size_t bytes,
                        const VCall& call) {
  const std::vector<int64_t> soff = offsets_of(send_counts, num_send), roff = offsets_of(recv_counts, num_recv);
  int64_t largest = 0;
  for (size_t i = 0; i < num_send; ++i) largest = std::max(largest, send_counts[i]);
  for (size_t i = 0; i < num_recv; ++i) largest = std::max(largest, recv_counts[i]);
  // {does not fit in one call, peers, largest message}, maximised over ranks.
  int64_t agreed[3] = {soff.back() > max_count || roff.back() > max_count ? 1 : 0,
                       static_cast<int64_t>(std::max(num_send, num_recv)), largest};
  MPI_Allreduce(MPI_IN_PLACE, agreed, 3, MPI_INT64_T, MPI_MAX, comm);
  if (agreed[0] == 0) {
    std::vector<int> sc(num_send), sd(num_send), rc(num_recv), rd(num_recv);
    for (size_t i = 0; i < num_send; ++i) sc[i] = static_cast<int>(send_counts[i]), sd[i] = static_cast<int>(soff[i]);
    for (size_t i = 0; i < num_recv; ++i) rc[i] = static_cast<int>(recv_counts[i]), rd[i] = static_cast<int>(roff[i]);
    call(send, sc.data(), sd.data(), recv, rc.data(), rd.data());
    return;
  }
  const int64_t piece = std::max<int64_t>(1, max_count / std::max<int64_t>(1, agreed[1]));
  const int64_t rounds = (agreed[2] + piece - 1) / piece;
  std::vector<char> sbuf, rbuf;
  std::vector<int> sc(num_send), sd(num_send), rc(num_recv), rd(num_recv);
  auto cut = [piece](int64_t count, int64_t k) { return std::clamp<int64_t>(count - k * piece, 0, piece); };
  for (int64_t k = 0; k < rounds; ++k) {
    int64_t stotal = 0, rtotal = 0;
    for (size_t i = 0; i < num_send; ++i) sc[i] = static_cast<int>(cut(send_counts[i], k)), sd[i] = static_cast<int>(stotal), stotal += sc[i];
    for (size_t i = 0; i < num_recv; ++i) rc[i] = static_cast<int>(cut(recv_counts[i], k)), rd[i] = static_cast<int>(rtotal), rtotal += rc[i];
    sbuf.resize(static_cast<size_t>(stotal) * bytes);
    rbuf.resize(static_cast<size_t>(rtotal) * bytes);
    for (size_t i = 0; i < num_send; ++i)
      std::memcpy(at(sbuf.data(), sd[i], bytes), at(send, soff[i] + k * piece, bytes), static_cast<size_t>(sc[i]) * bytes);
    call(sbuf.data(), sc.data(), sd.data(), rbuf.data(), rc.data(), rd.data());
    for (size_t i = 0; i < num_recv; ++i)
      std::memcpy(at(recv, roff[i] + k * piece, bytes), at(rbuf.data(), rd[i], bytes), static_cast<size_t>(rc[i]) * bytes);
  }
}

class MpiRequest final : public Request::Pending {
 public:
  std::vector<MPI_Request> requests;
  void wait() override { MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE); }
};

class MpiNeighbourhood final : public Neighbourhood {
 public:
  MpiNeighbourhood(MPI_Comm parent, const std::vector<int>& sources, const std::vector<int>& destinations,
                   int64_t max_count)
      : Neighbourhood(sources, destinations), max_count_(max_count) {
    // reorder = 0: ranks keep their numbers, so the rows each rank owns stay where the partition put them.
    MPI_Dist_graph_create_adjacent(parent, static_cast<int>(sources.size()), sources.data(), MPI_UNWEIGHTED,
                                   static_cast<int>(destinations.size()), destinations.data(), MPI_UNWEIGHTED,
                                   MPI_INFO_NULL, 0, &graph_);
  }
  ~MpiNeighbourhood() override { free_comm(graph_); }

 protected:
  void exchange_raw(const void* send, const int64_t* send_counts, void* recv, const int64_t* recv_counts,
                    DataType type) const override {
    const MPI_Datatype t = mpi_type(type);
    exchange_in_rounds(graph_, max_count_, send, send_counts, destinations().size(), recv, recv_counts,
                       sources().size(), data_type_size(type),
                       [&](const void* s, const int* sc, const int* sd, void* r, const int* rc, const int* rd) {
                         MPI_Neighbor_alltoallv(s, sc, sd, t, r, rc, rd, t, graph_);
                       });
  }

 private:
  MPI_Comm graph_ = MPI_COMM_NULL;
  int64_t max_count_;
};

}  // namespace

Comm::Comm(MPI_Comm comm) : Communicator(rank_of(comm), size_of(comm)), comm_(comm) {}
Comm::Comm(MPI_Comm comm, Owned) : Communicator(rank_of(comm), size_of(comm)), comm_(comm), owned_(true) {}
Comm::Comm(const Comm& other)
    : Communicator(other.rank(), other.size()), comm_(other.comm_), max_count_(other.max_count_) {}
Comm::~Comm() {
  if (owned_) free_comm(comm_);
}

void Comm::barrier() const { MPI_Barrier(comm_); }

std::unique_ptr<Comm> Comm::split_comm(int color, int key) const {
  // A negative color would be MPI_UNDEFINED territory (no communicator at all); every rank joins a group.
  // Agreed before the split, so a bad colour on one rank stops every rank (no rank waits in MPI_Comm_split).
  struct {
    int color, rank;
  } lowest{color < 0 ? color : std::numeric_limits<int>::max(), rank()};
  MPI_Allreduce(MPI_IN_PLACE, &lowest, 1, MPI_2INT, MPI_MINLOC, comm_);
  if (lowest.color < 0) fail("split colour must be non-negative: rank {} passed {}", lowest.rank, lowest.color);
  MPI_Comm out = MPI_COMM_NULL;
  MPI_Comm_split(comm_, color, key, &out);
  auto result = std::unique_ptr<Comm>(new Comm(out, Owned{}));
  result->max_count_ = max_count_;
  return result;
}

std::unique_ptr<Neighbourhood> Comm::neighbourhood(const std::vector<int>& sources,
                                                   const std::vector<int>& destinations) const {
  for (int r : sources) RELFM_CHECK(r >= 0 && r < size(), "neighbour source {} outside [0, {})", r, size());
  for (int r : destinations) RELFM_CHECK(r >= 0 && r < size(), "neighbour destination {} outside [0, {})", r, size());
  return std::make_unique<MpiNeighbourhood>(comm_, sources, destinations, max_count_);
}

void Comm::broadcast_raw(void* data, int64_t count, DataType type, int root) const {
  const size_t bytes = data_type_size(type);
  for (int64_t done = 0; done < count; done += max_count_) {
    const int n = static_cast<int>(std::min(max_count_, count - done));
    MPI_Bcast(at(data, done, bytes), n, mpi_type(type), root, comm_);
  }
}

void Comm::allreduce_raw(void* data, int64_t count, DataType type, ReduceOp op) const {
  const size_t bytes = data_type_size(type);
  for (int64_t done = 0; done < count; done += max_count_) {
    const int n = static_cast<int>(std::min(max_count_, count - done));
    MPI_Allreduce(MPI_IN_PLACE, at(data, done, bytes), n, mpi_type(type), mpi_op(op), comm_);
  }
}

Request Comm::iallreduce_raw(void* data, int64_t count, DataType type, ReduceOp op) const {
  // Large messages become several requests in flight at once, over disjoint parts of the buffer.
  auto pending = std::make_unique<MpiRequest>();
  const size_t bytes = data_type_size(type);
  for (int64_t done = 0; done < count; done += max_count_) {
    const int n = static_cast<int>(std::min(max_count_, count - done));
    pending->requests.emplace_back();
    MPI_Iallreduce(MPI_IN_PLACE, at(data, done, bytes), n, mpi_type(type), mpi_op(op), comm_,
                   &pending->requests.back());
  }
  return Request(std::move(pending));
}

int64_t Comm::exclusive_scan_raw(int64_t v) const {
  int64_t out = 0;
  MPI_Exscan(&v, &out, 1, MPI_INT64_T, MPI_SUM, comm_);
  return rank() == 0 ? 0 : out;
}

void Comm::allgather_raw(const void* local, int64_t count, void* out, DataType type) const {
  if (count * size() <= max_count_) {
    MPI_Allgather(local, static_cast<int>(count), mpi_type(type), out, static_cast<int>(count), mpi_type(type), comm_);
    return;
  }
  const std::vector<int64_t> counts(static_cast<size_t>(size()), count);
  allgatherv_raw(local, out, counts.data(), type);
}

void Comm::allgatherv_raw(const void* local, void* out, const int64_t* counts, DataType type) const {
  // Every rank holds the same counts, so every rank takes the same path and cuts the same rounds.
  const size_t n = static_cast<size_t>(size()), bytes = data_type_size(type);
  const std::vector<int64_t> off = offsets_of(counts, n);
  const MPI_Datatype t = mpi_type(type);
  const int me = rank();
  std::vector<int> c(n), d(n);
  if (off.back() <= max_count_) {
    for (size_t r = 0; r < n; ++r) c[r] = static_cast<int>(counts[r]), d[r] = static_cast<int>(off[r]);
    MPI_Allgatherv(local, c[static_cast<size_t>(me)], t, out, c.data(), d.data(), t, comm_);
    return;
  }
  const int64_t piece = std::max<int64_t>(1, max_count_ / static_cast<int64_t>(n));
  const int64_t largest = *std::max_element(counts, counts + n);
  std::vector<char> staging;
  for (int64_t k = 0; k * piece < largest; ++k) {
    const int64_t total = round_counts(counts, n, k, piece, c);
    for (size_t r = 0, pos = 0; r < n; pos += static_cast<size_t>(c[r]), ++r) d[r] = static_cast<int>(pos);
    staging.resize(static_cast<size_t>(total) * bytes);
    MPI_Allgatherv(at(local, k * piece, bytes), c[static_cast<size_t>(me)], t, staging.data(), c.data(), d.data(), t,
                   comm_);
    for (size_t r = 0; r < n; ++r)
      std::memcpy(at(out, off[r] + k * piece, bytes), at(staging.data(), d[r], bytes), static_cast<size_t>(c[r]) * bytes);
  }
}

void Comm::reduce_scatter_raw(const void* in, void* out, const int64_t* counts, DataType type, ReduceOp op) const {
  const size_t n = static_cast<size_t>(size()), bytes = data_type_size(type);
  const std::vector<int64_t> off = offsets_of(counts, n);
  const MPI_Datatype t = mpi_type(type);
  std::vector<int> c(n);
  if (off.back() <= max_count_) {
    for (size_t r = 0; r < n; ++r) c[r] = static_cast<int>(counts[r]);
    MPI_Reduce_scatter(in, out, c.data(), t, mpi_op(op), comm_);
    return;
  }
  const int64_t piece = std::max<int64_t>(1, max_count_ / static_cast<int64_t>(n));
  const int64_t largest = *std::max_element(counts, counts + n);
  std::vector<char> staging;
  for (int64_t k = 0; k * piece < largest; ++k) {
    const int64_t total = round_counts(counts, n, k, piece, c);
    staging.resize(static_cast<size_t>(total) * bytes);
    int64_t pos = 0;
    for (size_t r = 0; r < n; ++r) {
      std::memcpy(at(staging.data(), pos, bytes), at(in, off[r] + k * piece, bytes), static_cast<size_t>(c[r]) * bytes);
      pos += c[r];
    }
    MPI_Reduce_scatter(staging.data(), at(out, k * piece, bytes), c.data(), t, mpi_op(op), comm_);
  }
}

void Comm::alltoallv_raw(const void* send, const int64_t* send_counts, void* recv, const int64_t* recv_counts,
                         DataType type) const {
  const MPI_Datatype t = mpi_type(type);
  const size_t n = static_cast<size_t>(size());
  exchange_in_rounds(comm_, max_count_, send, send_counts, n, recv, recv_counts, n, data_type_size(type),
                     [&](const void* s, const int* sc, const int* sd, void* r, const int* rc, const int* rd) {
                       MPI_Alltoallv(s, sc, sd, t, r, rc, rd, t, comm_);
                     });
}

}  // namespace relfm::dist
