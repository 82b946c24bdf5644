#include "io/checkpoint.hpp"

#include <cstdio>

namespace relfm {

int64_t StateSection::get_int(const std::string& key) const {
  auto it = ints.find(key);
  if (it == ints.end()) fail_input("checkpoint: missing state counter '{}'", key);
  return it->second;
}

double StateSection::get_real(const std::string& key) const {
  auto it = reals.find(key);
  if (it == reals.end()) fail_input("checkpoint: missing state value '{}'", key);
  return it->second;
}

const std::string& StateSection::get_text(const std::string& key) const {
  auto it = texts.find(key);
  if (it == texts.end()) fail_input("checkpoint: missing state text '{}'", key);
  return it->second;
}

const std::vector<double>& StateSection::get_array(const std::string& key) const {
  auto it = arrays.find(key);
  if (it == arrays.end()) fail_input("checkpoint: missing state array '{}'", key);
  return it->second;
}

namespace {

std::string section_group(const std::string& section) { return "/sections/" + section; }

void write_state_attrs(h5::File& f, const std::string& g, const StateSection& state) {
  for (const auto& [key, v] : state.ints) f.set_attr(g, key, v);
  for (const auto& [key, v] : state.reals) f.set_attr(g, key, v);
  for (const auto& [key, v] : state.texts) f.set_attr(g, key, v);
}

void read_state_attrs(const h5::File& f, const std::string& g, StateSection& state) {
  for (const std::string& name : f.attr_names(g)) {
    if (name == "type") continue;
    if (f.attr_is_integer(g, name)) state.ints[name] = f.attr_int(g, name);
    else if (f.attr_is_string(g, name)) state.texts[name] = f.attr_string(g, name);
    else state.reals[name] = f.attr_double(g, name);
  }
}

}  // namespace

void CheckpointWriter::claim(const std::string& section) {
  if (section.empty() || section.find('/') != std::string::npos)
    fail("checkpoint section name '{}' must be non-empty and contain no '/'", section);
  for (const auto& s : order_)
    if (s == section) fail("checkpoint section '{}' added twice", section);
  order_.push_back(section);
}

void CheckpointWriter::add_params(const std::string& section, const ParamStore<float>& store) {
  claim(section);
  params_[section] = &store;
}
void CheckpointWriter::add_optimizer(const std::string& section, Optimizer<float>& optimizer) {
  claim(section);
  optimizers_[section] = &optimizer;
}
void CheckpointWriter::add_state(const std::string& section, StateSection state) {
  claim(section);
  states_[section] = std::move(state);
}
void CheckpointWriter::add_rank_state(const std::string& section, StateSection local) {
  claim(section);
  rank_states_[section] = std::move(local);
}

void CheckpointWriter::write(const std::string& path, const std::function<void()>& before_commit) {
  const std::string tmp = path + ".tmp";
  {
    h5::File f = h5::File::create(tmp, comm_);
    f.set_attr("/", "format", std::string(kCheckpointFormat));
    f.set_attr("/", "format_version", kCheckpointFormatVersion);
    f.set_attr("/", "world_size", meta_.world_size);
    f.set_attr("/", "job_kind", meta_.job_kind);
    f.set_attr("/", "created_by", std::string("relfm train"));
    f.write_text("/config", meta_.config);
    for (const std::string& section : order_) {
      const std::string g = section_group(section);
      f.create_group(g);
      if (auto it = params_.find(section); it != params_.end()) {
        f.set_attr(g, "type", std::string("params"));
        f.create_group(g + "/values");
        for (const Parameter<float>* p : it->second->all())
          f.write_replicated(g + "/values/" + p->name, p->value.data(), {p->value.rows(), p->value.cols()});
        // Buffers may differ between ranks mid-epoch (BatchNorm statistics follow local batches): keep each
        // rank's copy too, so a resume on the same rank count continues exactly.
        f.create_group(g + "/rank_buffers");
        for (const Parameter<float>* p : it->second->all())
          if (!p->trainable) f.write_rows(g + "/rank_buffers/" + p->name, p->value.data(), 1, p->value.size());
      } else if (auto ot = optimizers_.find(section); ot != optimizers_.end()) {
        Optimizer<float>& optimizer = *ot->second;
        f.set_attr(g, "type", std::string("optimizer"));
        f.set_attr(g, "name", optimizer.config().name);
        f.set_attr(g, "steps", optimizer.steps());
        f.set_attr(g, "lr", optimizer.learning_rate());
        for (auto& [name, tensor] : optimizer.state())
          f.write_replicated(g + "/" + name, tensor->data(), {tensor->rows(), tensor->cols()});
      } else if (auto st = states_.find(section); st != states_.end()) {
        f.set_attr(g, "type", std::string("state"));
        write_state_attrs(f, g, st->second);
        for (const auto& [key, v] : st->second.arrays) f.write_replicated(g + "/" + key, v);
      } else {
        const StateSection& local = rank_states_.at(section);
        f.set_attr(g, "type", std::string("rank_state"));
        // Every rank must name the same arrays in the same order (they are collective writes).
        std::vector<std::string> keys;
        for (const auto& [key, v] : local.arrays) keys.push_back(key);
        const std::vector<std::string> all = comm_.allgather_strings(keys);
        for (size_t i = 0; i < all.size(); ++i)
          if (all[i] != keys[i % std::max<size_t>(keys.size(), 1)])
            fail("checkpoint section '{}': ranks hold different arrays", section);
        for (const auto& [key, v] : local.arrays) {
          const int64_t n = static_cast<int64_t>(v.size());
          f.write_rows(g + "/" + key, v.data(), n);
          f.write_rows(g + "/" + key + ".counts", &n, 1);
        }
      }
    }
    if (before_commit) before_commit();
    f.close();
  }
  h5::commit_atomic(tmp, path, comm_);
}

CheckpointReader::CheckpointReader(const std::string& path, const dist::Comm& comm) : path_(path), comm_(comm) {
  file_ = h5::File::open(path, comm);
  comm.collective([&] {
    file_.expect_format(kCheckpointFormat, kCheckpointFormatVersion);
    meta_.format_version = file_.attr_int("/", "format_version");
    if (meta_.format_version < kCheckpointFormatVersion)
      fail_input("'{}' is a checkpoint of format_version {} (written before job kinds and sections); this relfm "
                 "reads format_version {}. Start afresh with --resume never, or use another output.dir",
                 path, meta_.format_version, kCheckpointFormatVersion);
    meta_.world_size = file_.attr_int("/", "world_size");
    meta_.job_kind = file_.attr_string("/", "job_kind");
    meta_.config = file_.read_text("/config");
    if (file_.is_group("/sections"))
      for (const std::string& s : file_.list("/sections"))
        section_types_[s] = file_.attr_string(section_group(s), "type");
  });
}

bool CheckpointReader::has_section(const std::string& section) const { return section_types_.count(section) > 0; }

std::string CheckpointReader::group_of(const std::string& section, const char* type) const {
  auto it = section_types_.find(section);
  if (it == section_types_.end())
    fail_input("'{}' has no section '{}': it was written by a different job or configuration", path_, section);
  if (it->second != type) fail_input("'{}': section '{}' holds {}, not {}", path_, section, it->second, type);
  return section_group(section);
}

void CheckpointReader::read_params(const std::string& section, ParamStore<float>& store) {
  comm_.collective([&] {
    const std::string g = group_of(section, "params");
    auto load = [&](const std::string& dataset, Mat<float>& into) {
      if (!file_.exists(dataset))
        fail_input("'{}' has no '{}': the checkpoint was written by a different model configuration", path_, dataset);
      const auto dims = file_.dims(dataset);
      if (dims.size() != 2 || dims[0] != into.rows() || dims[1] != into.cols())
        fail_input("'{}': '{}' has shape {}x{}, the model needs {}x{} (different model configuration?)", path_, dataset,
                   dims.size() > 0 ? dims[0] : 0, dims.size() > 1 ? dims[1] : 0, into.rows(), into.cols());
      const auto v = file_.read_rows<float>(dataset);
      into = Eigen::Map<const MatF>(v.data(), into.rows(), into.cols());
    };
    for (Parameter<float>* p : store.all()) load(g + "/values/" + p->name, p->value);
    if (meta_.world_size != comm_.size()) return;
    for (Parameter<float>* p : store.all()) {
      if (p->trainable) continue;
      const std::string name = g + "/rank_buffers/" + p->name;
      if (!file_.exists(name)) fail_input("'{}' has no '{}'", path_, name);
      const auto row = file_.read_rows<float>(name, comm_.rank(), comm_.rank() + 1);
      if (static_cast<int64_t>(row.size()) != p->value.size()) fail_input("'{}': '{}' has the wrong size", path_, name);
      p->value = Eigen::Map<const MatF>(row.data(), p->value.rows(), p->value.cols());
    }
  });
}

void CheckpointReader::read_optimizer(const std::string& section, Optimizer<float>& optimizer) {
  comm_.collective([&] {
    const std::string g = group_of(section, "optimizer");
    const std::string name = file_.attr_string(g, "name");
    if (name != optimizer.config().name)
      fail_input("'{}' holds {} optimiser state in section '{}' but the job uses {}", path_, name, section,
                 optimizer.config().name);
    optimizer.set_steps(file_.attr_int(g, "steps"));
    for (auto& [slot, tensor] : optimizer.state()) {
      const std::string dataset = g + "/" + slot;
      if (!file_.exists(dataset)) fail_input("'{}' has no '{}'", path_, dataset);
      const auto dims = file_.dims(dataset);
      if (dims.size() != 2 || dims[0] != tensor->rows() || dims[1] != tensor->cols())
        fail_input("'{}': '{}' has the wrong shape (different model configuration?)", path_, dataset);
      const auto v = file_.read_rows<float>(dataset);
      *tensor = Eigen::Map<const MatF>(v.data(), tensor->rows(), tensor->cols());
    }
  });
}

StateSection CheckpointReader::read_state(const std::string& section) {
  return comm_.collective([&] {
    const std::string g = group_of(section, "state");
    StateSection state;
    read_state_attrs(file_, g, state);
    for (const std::string& key : file_.list(g)) state.arrays[key] = file_.read_rows<double>(g + "/" + key);
    return state;
  });
}

StateSection CheckpointReader::read_rank_state(const std::string& section) {
  return comm_.collective([&] {
    const std::string g = group_of(section, "rank_state");
    if (meta_.world_size != comm_.size())
      fail_input("'{}': section '{}' holds per-rank state of {} ranks; this run has {}", path_, section,
                 meta_.world_size, comm_.size());
    StateSection state;
    for (const std::string& key : file_.list(g)) {
      if (key.size() > 7 && key.compare(key.size() - 7, 7, ".counts") == 0) continue;
      const auto counts = file_.read_rows<int64_t>(g + "/" + key + ".counts");
      int64_t begin = 0;
      for (int r = 0; r < comm_.rank(); ++r) begin += counts[static_cast<size_t>(r)];
      state.arrays[key] = file_.read_rows<double>(g + "/" + key, begin, begin + counts[static_cast<size_t>(comm_.rank())]);
    }
    return state;
  });
}

void CheckpointReader::close() { file_.close(); }

void inspect_checkpoint(const h5::File& f) {
  std::printf("checkpoint of a '%s' job (format_version %lld), written by %lld rank(s)\n",
              f.has_attr("/", "job_kind") ? f.attr_string("/", "job_kind").c_str() : "?",
              static_cast<long long>(f.attr_int("/", "format_version")),
              static_cast<long long>(f.attr_int("/", "world_size")));
  if (f.attr_int("/", "format_version") < 2) {
    std::printf("  (format_version 1: written before job kinds; this relfm does not resume from it)\n");
    return;
  }
  const std::string trainer = "/sections/trainer";
  if (f.exists(trainer)) {
    auto si = [&](const char* k) { return f.has_attr(trainer, k) ? static_cast<long long>(f.attr_int(trainer, k)) : -1LL; };
    std::printf("  position       seed index %lld, epoch %lld, step in epoch %lld, global step %lld\n",
                si("seed_index"), si("epoch"), si("step_in_epoch"), si("global_step"));
  }
  for (const std::string& s : f.list("/sections")) {
    const std::string g = "/sections/" + s;
    const std::string type = f.attr_string(g, "type");
    if (type == "params") {
      int64_t tensors = 0, values = 0;
      for (const std::string& name : f.list(g + "/values")) {
        ++tensors;
        int64_t n = 1;
        for (int64_t d : f.dims(g + "/values/" + name)) n *= d;
        values += n;
      }
      std::printf("  %-14s parameters: %lld tensors, %lld values\n", s.c_str(), static_cast<long long>(tensors),
                  static_cast<long long>(values));
    } else if (type == "optimizer") {
      std::printf("  %-14s optimizer %s, %lld steps, lr %g\n", s.c_str(), f.attr_string(g, "name").c_str(),
                  static_cast<long long>(f.attr_int(g, "steps")), f.attr_double(g, "lr"));
    } else {
      std::printf("  %-14s %s: %zu attributes, %zu arrays\n", s.c_str(), type.c_str(), f.attr_names(g).size() - 1,
                  f.list(g).size());
    }
  }
}

}  // namespace relfm
