#include "io/checkpoint.hpp"

namespace relfm {

int64_t TrainerState::get_int(const std::string& key) const {
  auto it = ints.find(key);
  if (it == ints.end()) fail_input("checkpoint: missing state counter '{}'", key);
  return it->second;
}

double TrainerState::get_real(const std::string& key) const {
  auto it = reals.find(key);
  if (it == reals.end()) fail_input("checkpoint: missing state value '{}'", key);
  return it->second;
}

const std::vector<double>& TrainerState::get_array(const std::string& key) const {
  auto it = arrays.find(key);
  if (it == arrays.end()) fail_input("checkpoint: missing state array '{}'", key);
  return it->second;
}

void write_checkpoint(const std::string& path, const dist::Comm& comm, const ParamStore<float>& params,
                      Optimizer<float>& optimizer, const TrainerState& state, const CheckpointMeta& meta,
                      const std::function<void()>& before_commit) {
  const std::string tmp = path + ".tmp";
  {
    h5::File f = h5::File::create(tmp, comm);
    f.set_attr("/", "format", std::string(kCheckpointFormat));
    f.set_attr("/", "format_version", kCheckpointFormatVersion);
    f.set_attr("/", "world_size", meta.world_size);
    f.set_attr("/", "created_by", std::string("relfm train"));
    f.write_text("/config", meta.config);
    f.create_group("/params");
    for (const Parameter<float>* p : params.all())
      f.write_replicated("/params/" + p->name, p->value.data(), {p->value.rows(), p->value.cols()});
    // Buffers may differ between ranks mid-epoch (BatchNorm statistics follow local batches): keep each
    // rank's copy too, so a resume on the same rank count continues exactly.
    f.create_group("/rank_buffers");
    for (const Parameter<float>* p : params.all())
      if (!p->trainable) f.write_rows("/rank_buffers/" + p->name, p->value.data(), 1, p->value.size());
    f.create_group("/optimizer");
    f.set_attr("/optimizer", "name", optimizer.config().name);
    f.set_attr("/optimizer", "steps", optimizer.steps());
    f.set_attr("/optimizer", "lr", optimizer.learning_rate());
    for (auto& [name, tensor] : optimizer.state())
      f.write_replicated("/optimizer/" + name, tensor->data(), {tensor->rows(), tensor->cols()});
    f.create_group("/state");
    for (const auto& [key, v] : state.ints) f.set_attr("/state", key, v);
    for (const auto& [key, v] : state.reals) f.set_attr("/state", key, v);
    for (const auto& [key, v] : state.arrays) f.write_replicated("/state/" + key, v);
    if (before_commit) before_commit();
    f.close();
  }
  h5::commit_atomic(tmp, path, comm);
}

namespace {

void read_state(const h5::File& f, TrainerState& state, CheckpointMeta& meta) {
  f.expect_format(kCheckpointFormat, kCheckpointFormatVersion);
  meta.world_size = f.attr_int("/", "world_size");
  meta.config = f.read_text("/config");
  state = TrainerState{};
  hid_t group = H5Gopen2(f.id(), "/state", H5P_DEFAULT);
  if (group < 0) fail_input("'{}' has no /state group", f.path());
  // Attributes: integers and reals.
  const int num_attrs = H5Aget_num_attrs(group);
  for (int i = 0; i < num_attrs; ++i) {
    char name[256];
    H5Aget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, static_cast<hsize_t>(i), name, sizeof(name), H5P_DEFAULT);
    hid_t a = H5Aopen(group, name, H5P_DEFAULT);
    hid_t type = H5Aget_type(a);
    const bool is_int = H5Tget_class(type) == H5T_INTEGER;
    H5Tclose(type);
    H5Aclose(a);
    if (is_int) state.ints[name] = f.attr_int("/state", name);
    else state.reals[name] = f.attr_double("/state", name);
  }
  // Datasets: arrays.
  H5G_info_t ginfo;
  H5Gget_info(group, &ginfo);
  for (hsize_t i = 0; i < ginfo.nlinks; ++i) {
    char name[256];
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof(name), H5P_DEFAULT);
    state.arrays[name] = f.read_rows<double>(std::string("/state/") + name);
  }
  H5Gclose(group);
}

}  // namespace

void read_checkpoint_header(const std::string& path, const dist::Comm& comm, TrainerState& state, CheckpointMeta& meta) {
  comm.collective([&] {
    h5::File f = h5::File::open(path, comm);
    read_state(f, state, meta);
    f.close();
  });
}

void read_checkpoint(const std::string& path, const dist::Comm& comm, ParamStore<float>& params,
                     Optimizer<float>& optimizer, TrainerState& state, CheckpointMeta& meta) {
  comm.collective([&] {
    h5::File f = h5::File::open(path, comm);
    read_state(f, state, meta);
    auto load = [&](const std::string& dataset, Mat<float>& into) {
      if (!f.exists(dataset))
        fail_input("'{}' has no '{}': the checkpoint was written by a different model configuration", path, dataset);
      const auto dims = f.dims(dataset);
      if (dims.size() != 2 || dims[0] != into.rows() || dims[1] != into.cols())
        fail_input("'{}': '{}' has shape {}x{}, the model needs {}x{} (different model configuration?)", path, dataset,
                   dims.size() > 0 ? dims[0] : 0, dims.size() > 1 ? dims[1] : 0, into.rows(), into.cols());
      const auto v = f.read_rows<float>(dataset);
      into = Eigen::Map<const MatF>(v.data(), into.rows(), into.cols());
    };
    for (Parameter<float>* p : params.all()) load("/params/" + p->name, p->value);
    if (meta.world_size == comm.size()) {
      for (Parameter<float>* p : params.all()) {
        if (p->trainable) continue;
        const std::string name = "/rank_buffers/" + p->name;
        if (!f.exists(name)) fail_input("'{}' has no '{}'", path, name);
        const auto row = f.read_rows<float>(name, comm.rank(), comm.rank() + 1);
        if (static_cast<int64_t>(row.size()) != p->value.size()) fail_input("'{}': '{}' has the wrong size", path, name);
        p->value = Eigen::Map<const MatF>(row.data(), p->value.rows(), p->value.cols());
      }
    }
    const std::string opt_name = f.attr_string("/optimizer", "name");
    if (opt_name != optimizer.config().name)
      fail_input("'{}' holds {} optimiser state but the job uses {}", path, opt_name, optimizer.config().name);
    optimizer.set_steps(f.attr_int("/optimizer", "steps"));
    for (auto& [name, tensor] : optimizer.state()) load("/optimizer/" + name, *tensor);
    f.close();
  });
}

}  // namespace relfm
