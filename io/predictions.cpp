#include "io/predictions.hpp"

#include <cstdio>

namespace relfm {

void write_predictions(const std::string& path, const dist::Comm& comm, const Predictions& p) {
  const auto rows = static_cast<int64_t>(p.ids.size());
  h5::write_atomically(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kPredictionsFormat));
    f.set_attr("/", "format_version", int64_t{1});
    f.set_attr("/", "dataset", p.dataset);
    f.set_attr("/", "split", p.split);
    f.set_attr("/", "metric", p.metric);
    f.set_attr("/", "value", p.value);
    f.set_attr("/", "checkpoint", p.checkpoint);
    f.write_rows("/ids", p.ids.data(), rows);
    f.write_rows("/predictions", p.predictions.data(), rows, p.prediction_columns);
    f.write_rows("/labels", p.labels.data(), rows, p.label_columns);
  });
}

void inspect_predictions(const h5::File& f) {
  const std::vector<int64_t> shape = f.dims("/predictions");
  std::printf("predictions of '%s' on %s split '%s': %s = %.4f, %lld rows x %lld columns\n",
              f.attr_string("/", "checkpoint").c_str(), f.attr_string("/", "dataset").c_str(),
              f.attr_string("/", "split").c_str(), f.attr_string("/", "metric").c_str(), f.attr_double("/", "value"),
              static_cast<long long>(shape.at(0)), static_cast<long long>(shape.size() > 1 ? shape[1] : 1));
}

}  // namespace relfm
