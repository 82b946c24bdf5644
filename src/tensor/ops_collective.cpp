// Ops that span ranks, through the Communicator interface (no MPI here).
#include "src/tensor/ops.hpp"
#include "src/tensor/op_util.hpp"

namespace relfm {
namespace {

using detail::wire;
using detail::wire_counts;

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
