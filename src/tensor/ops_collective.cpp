// Ops that span ranks, through the Collective interface (no MPI here).
#include "src/tensor/ops.hpp"

namespace relfm {
namespace {

template <typename T>
struct AllGatherRowsNode final : Node<T> {
  Node<T>* x;
  std::shared_ptr<const Collective> collective;
  int64_t first_row = 0;  // where this rank's rows sit in the gathered matrix
  AllGatherRowsNode(Node<T>* x_, std::shared_ptr<const Collective> c)
      : Node<T>(OpKind::kAllGatherRows), x(x_), collective(std::move(c)) {}
  void backward() override {
    // Every rank's loss may depend on every gathered row: sum the gradients over ranks, keep our slice.
    // All ranks reach this backward (they all called the forward), so the collective call matches.
    Mat<T> total = this->grad();
    collective->allreduce_sum(total.data(), total.size());
    if (x->requires_grad()) x->accumulate_grad(total.middleRows(first_row, x->value().rows()));
  }
};

}  // namespace

template <typename T>
Var<T> all_gather_rows(Var<T> x, std::shared_ptr<const Collective> collective) {
  const std::vector<int64_t> cols = collective->allgather_counts(x.cols());
  for (int64_t c : cols)
    if (c != x.cols()) fail("all_gather_rows: ranks disagree on the number of columns ({} here, {} elsewhere)", x.cols(), c);
  const std::vector<int64_t> rows = collective->allgather_counts(x.rows());
  std::vector<int64_t> counts(rows.size());
  int64_t total = 0, first = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    counts[r] = rows[r] * x.cols();
    if (static_cast<int>(r) < collective->rank()) first += rows[r];
    total += rows[r];
  }
  auto* tape = x.tape();
  auto* node = tape->template push<AllGatherRowsNode<T>>(x.node(), collective);
  node->first_row = first;
  node->mutable_value().resize(total, x.cols());
  collective->allgatherv(x.value().data(), node->mutable_value().data(), counts);
  // Every rank records the node as differentiable so that all ranks join the backward's all-reduce.
  tape->set_requires_grad(node, {x});
  return Var<T>(node, tape);
}

template Var<float> all_gather_rows<float>(Var<float>, std::shared_ptr<const Collective>);
template Var<double> all_gather_rows<double>(Var<double>, std::shared_ptr<const Collective>);

}  // namespace relfm
