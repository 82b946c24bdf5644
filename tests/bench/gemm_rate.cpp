// The sgemm rate the GIN's matrix products reach on this machine: the six products of one GIN layer
// (forward h -> 2h and 2h -> h; the input and weight gradients of both) at the model's shapes, each
// timed best-of-N in a hot loop, reported as FLOPs / time. Built twice: with Eigen's own kernel and with
// Eigen routed to OpenBLAS (EIGEN_USE_BLAS), the configuration relfm trains with. Prints one JSON line.
//
//   relfm_gemm_rate_{eigen,openblas} ROWS [HIDDEN]     ROWS = atoms per (local) batch
#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename F>
double best_seconds(F&& f, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ROWS [HIDDEN]\n", argv[0]);
    return 2;
  }
  const int n = std::atoi(argv[1]);
  const int h = argc > 2 ? std::atoi(argv[2]) : 300;
  const int reps = 20;
  M x = M::Random(n, h), w1 = M::Random(h, 2 * h), z = M::Random(n, 2 * h), w2 = M::Random(2 * h, h), g = M::Random(n, h);
  M y1(n, 2 * h), y2(n, h), dz(n, 2 * h), dw2(2 * h, h), dx(n, h), dw1(h, 2 * h);
  double seconds = 0;
  seconds += best_seconds([&] { y1.noalias() = x * w1; }, reps);
  seconds += best_seconds([&] { y2.noalias() = z * w2; }, reps);
  seconds += best_seconds([&] { dz.noalias() = g * w2.transpose(); }, reps);
  seconds += best_seconds([&] { dw2.noalias() = z.transpose() * g; }, reps);
  seconds += best_seconds([&] { dx.noalias() = z * w1.transpose(); }, reps);
  seconds += best_seconds([&] { dw1.noalias() = x.transpose() * z; }, reps);
  const double flops = 6.0 * 2.0 * n * h * (2.0 * h);
  // A square product too, the usual headline figure.
  M a = M::Random(1024, 1024), b = M::Random(1024, 1024), c(1024, 1024);
  const double square = best_seconds([&] { c.noalias() = a * b; }, 10);
#ifdef EIGEN_USE_BLAS
  const char* backend = "openblas";
#else
  const char* backend = "eigen";
#endif
  std::printf("{\"backend\": \"%s\", \"rows\": %d, \"hidden\": %d, \"gin_layer_gflops\": %.1f, \"square1024_gflops\": %.1f}\n",
              backend, n, h, flops / seconds / 1e9, 2.0 * 1024 * 1024 * 1024 / square / 1e9);
  return 0;
}
