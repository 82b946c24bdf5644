// Ops that span ranks, through the Communicator interface (no MPI here).
#include "src/tensor/ops.hpp"

namespace relfm {
namespace {

// What goes over the wire: float and double as themselves; a Dual<double> as its (value, tangent) pair
// of doubles, since gathering copies both and summing adds both, exactly as the Dual arithmetic would.
template <typename T>
struct Wire {
  using type = T;
  static constexpr int64_t width = 1;
};
template <>
struct Wire<Dual<double>> {
  static_assert(sizeof(Dual<double>) == 2 * sizeof(double), "Dual<double> must be a plain pair of doubles");
  using type = double;
  static constexpr int64_t width = 2;
};
template <typename T>
typename Wire<T>::type* wire(T* p) {
  return reinterpret_cast<typename Wire<T>::type*>(p);
}
template <typename T>
const typename Wire<T>::type* wire(const T* p) {
  return reinterpret_cast<const typename Wire<T>::type*>(p);
}
template <typename T>
std::vector<int64_t> wire_counts(std::vector<int64_t> counts) {
  for (int64_t& c : counts) c *= Wire<T>::width;
  return counts;
}

template <typename T>
struct AllGatherRowsNode final : Node<T> {
  Node<T>* x;
  const Communicator& comm;
  std::vector<int64_t> counts;  // values (rows x cols) each rank contributed, in rank order
  AllGatherRowsNode(Node<T>* x_, const Communicator& c, std::vector<int64_t> counts_)
      : Node<T>(OpKind::kAllGatherRows), x(x_), comm(c), counts(std::move(counts_)) {}
  bool is_collective() const override { return true; }
  void backward() override {
    // Every rank's loss may depend on every gathered row, so our rows' gradient is the sum over ranks of
    // the gradient of our block: a reduce-scatter, which moves and sums 1/size of what an all-reduce of
    // the whole gathered gradient would. The tape runs this on every rank, with zeros where no gradient
    // arrived, so the collective call always matches.
    Mat<T> mine(x->value().rows(), x->value().cols());
    comm.reduce_scatter_sum(wire(this->grad().data()), wire(mine.data()), wire_counts<T>(counts));
    if (x->requires_grad()) x->accumulate_grad(mine);
  }
};

}  // namespace

template <typename T>
Var<T> all_gather_rows(Var<T> x, const Communicator& comm) {
  const std::vector<int64_t> cols = comm.allgather(x.cols());
  for (int64_t c : cols)
    if (c != x.cols()) fail("all_gather_rows: ranks disagree on the number of columns ({} here, {} elsewhere)", x.cols(), c);
  const std::vector<int64_t> rows = comm.allgather(x.rows());
  std::vector<int64_t> counts(rows.size());
  int64_t total = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    counts[r] = rows[r] * x.cols();
    total += rows[r];
  }
  auto* tape = x.tape();
  auto* node = tape->template push<AllGatherRowsNode<T>>(x.node(), comm, counts);
  node->mutable_value().resize(total, x.cols());
  comm.allgatherv(wire(x.value().data()), wire(node->mutable_value().data()), wire_counts<T>(counts));
  tape->set_requires_grad_collective(node);
  return Var<T>(node, tape);
}

template Var<float> all_gather_rows<float>(Var<float>, const Communicator&);
template Var<double> all_gather_rows<double>(Var<double>, const Communicator&);
template Var<Dual<double>> all_gather_rows<Dual<double>>(Var<Dual<double>>, const Communicator&);

}  // namespace relfm
