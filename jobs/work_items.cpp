#include "jobs/work_items.hpp"

#include "dist/runtime.hpp"
#include "io/h5.hpp"
#include "jobs/job_kinds.hpp"
#include "src/core/log.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace relfm::jobs {

std::vector<KeySpec> work_item_keys() {
  std::vector<KeySpec> keys = output_keys("results.h5 and the item journals");
  keys.push_back(
      {"debug.stop_after_items", ValueKind::kInt, "0",
       "Testing aid: each rank behaves as if SIGUSR1 arrived after finishing this many items (0 = never).", {}, 0});
  return keys;
}

namespace {

// One journal line: {"item": i, "numbers": {...}, "texts": {...}}.
std::string journal_line(int64_t item, const ItemRecord& r) {
  nlohmann::json j;
  j["item"] = item;
  j["numbers"] = nlohmann::json::object();
  for (const auto& [k, v] : r.numbers) j["numbers"][k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  j["texts"] = r.texts;
  return j.dump() + "\n";
}

// Appends lines with an fsync each: an item is recorded once its line is on disk.
class Journal {
 public:
  explicit Journal(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd_ < 0) fail_input("cannot open the item journal '{}' for appending", path);
    // A torn last line (a kill mid-write) must not swallow the next record: start on a fresh line.
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (in && in.tellg() > 0) {
      in.seekg(-1, std::ios::end);
      if (in.get() != '\n') write_all("\n");
    }
  }
  ~Journal() {
    if (fd_ >= 0) ::close(fd_);
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  void append(const std::string& line) {
    write_all(line);
    if (::fsync(fd_) != 0) fail("fsync of '{}' failed", path_);
  }

 private:
  void write_all(const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      const ssize_t n = ::write(fd_, s.data() + done, s.size() - done);
      if (n < 0) fail("writing the item journal '{}' failed (disk full?)", path_);
      done += static_cast<size_t>(n);
    }
  }
  std::string path_;
  int fd_ = -1;
};

void write_work_results(const std::string& path, const dist::Comm& comm, const JobConfig& config,
                        const std::string& job_name, int64_t num_items, const std::map<int64_t, ItemRecord>& records,
                        const std::map<std::string, double>& summary, const std::map<std::string, std::string>& attrs,
                        const WorkItemJob& job) {
  std::vector<int64_t> items;
  std::set<std::string> number_fields, text_fields;
  for (const auto& [i, r] : records) {
    items.push_back(i);
    for (const auto& [k, v] : r.numbers) number_fields.insert(k);
    for (const auto& [k, v] : r.texts)
      if (k.empty() || k[0] != '_') text_fields.insert(k);
  }
  h5::write_on_root(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kWorkResultsFormat));
    f.set_attr("/", "format_version", kWorkResultsFormatVersion);
    f.set_attr("/", "job", job_name);
    f.set_attr("/", "job_kind", config.get_string("job.kind"));
    f.set_attr("/", "world_size", static_cast<int64_t>(comm.size()));
    f.set_attr("/", "num_items", num_items);
    f.set_attr("/", "items_done", static_cast<int64_t>(records.size()));
    f.set_attr("/", "complete", static_cast<int64_t>(static_cast<int64_t>(records.size()) == num_items));
    for (const auto& [k, v] : summary) f.set_attr("/", k, v);
    for (const auto& [k, v] : attrs) f.set_attr("/", k, v);
    for (const auto& [k, v] : run_environment_attrs(job_kind(config.get_string("job.kind")).uses_gemm))
      f.set_attr("/", k, v);
    f.write_text("/config", config.to_toml());
    f.write_replicated("/items/item", items);
    for (const std::string& field : number_fields) {
      std::vector<double> column;
      for (const auto& [i, r] : records) {
        auto it = r.numbers.find(field);
        column.push_back(it == r.numbers.end() ? std::nan("") : it->second);
      }
      f.write_replicated("/items/" + field, column);
    }
    for (const std::string& field : text_fields) {
      std::vector<uint8_t> chars;
      std::vector<int64_t> offsets{0};
      for (const auto& [i, r] : records) {
        auto it = r.texts.find(field);
        if (it != r.texts.end()) chars.insert(chars.end(), it->second.begin(), it->second.end());
        offsets.push_back(static_cast<int64_t>(chars.size()));
      }
      f.write_replicated("/items/" + field + ".chars", chars);
      f.write_replicated("/items/" + field + ".offsets", offsets);
    }
    job.write_tables(f, records);
  });
}


struct ItemOutcome {
  ItemRecord record;
  std::exception_ptr failure;
};

// Runs job.process on each item, all at once: one thread per item but the first, which runs here.
std::vector<ItemOutcome> process_items(WorkItemJob& job, const std::vector<int64_t>& items) {
  std::vector<ItemOutcome> out(items.size());
  const auto work = [&](size_t k) {
    try {
      out[k].record = job.process(items[k]);
    } catch (...) {
      out[k].failure = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (size_t k = 1; k < items.size(); ++k) threads.emplace_back(work, k);
  if (!items.empty()) work(0);
  for (std::thread& t : threads) t.join();
  return out;
}

}  // namespace

std::map<int64_t, ItemRecord> read_journals(const std::string& dir) {
  std::map<int64_t, ItemRecord> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // a fixed order makes "the first record" well defined
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object() || !j.contains("item") || !j["item"].is_number_integer()) continue;  // torn
      const int64_t item = j["item"].get<int64_t>();
      if (out.count(item)) continue;
      ItemRecord r;
      if (j.contains("numbers") && j["numbers"].is_object())
        for (const auto& [k, v] : j["numbers"].items()) r.numbers[k] = v.is_number() ? v.get<double>() : std::nan("");
      if (j.contains("texts") && j["texts"].is_object())
        for (const auto& [k, v] : j["texts"].items())
          if (v.is_string()) r.texts[k] = v.get<std::string>();
      out[item] = std::move(r);
    }
  }
  return out;
}

int run_work_items(const dist::Comm& comm, const JobConfig& config, const RunOptions& options, WorkItemJob& job) {
  const std::string out_dir = config.get_string("output.dir");
  const std::string journal_dir = out_dir + "/items";
  const std::string results_path = out_dir + "/results.h5";
  const std::string job_name = config.get_string("job.name").empty()
                                   ? std::filesystem::path(config.source()).stem().string()
                                   : config.get_string("job.name");
  comm.collective([&] {
    if (comm.is_root()) {
      std::error_code ec;
      std::filesystem::create_directories(journal_dir, ec);
      if (ec) fail_input("cannot create '{}': {}", journal_dir, ec.message());
    }
  });
  comm.barrier();
  // The configuration of the first run sits beside the journals: a resumed run must not change a key
  // that makes the finished records meaningless.
  comm.collective([&] {
    // Rank 0 alone reads and writes it (another rank could read it half-written); the agreement spreads
    // an error to every rank.
    if (!comm.is_root()) return;
    const std::string saved_path = journal_dir + "/config.toml";
    std::ifstream saved_in(saved_path);
    if (saved_in && options.resume != ResumeMode::kNever) {
      std::stringstream text;
      text << saved_in.rdbuf();
      const JobConfig saved = JobConfig::parse(text.str(), saved_path, {}, config.schema());
      const std::vector<std::string> conflicts = config.resume_conflicts(saved);
      if (!conflicts.empty())
        fail_input("'{}' holds items finished with {}: resume with the same settings, or start afresh with "
                   "--resume never (or another output.dir)",
                   journal_dir, conflicts.front());
    } else {
      // Written whole and renamed, so a kill never leaves a half-written one behind.
      {
        std::ofstream out(saved_path + ".tmp");
        out << config.to_toml();
        if (!out) fail_input("cannot write '{}'", saved_path + ".tmp");
      }
      std::filesystem::rename(saved_path + ".tmp", saved_path);
    }
  });
  job.setup(comm, config);
  const int64_t n = job.num_items();

  // Finished items from earlier runs, read by every rank (the same files, so the same set).
  std::map<int64_t, ItemRecord> done = comm.collective([&] {
    if (options.resume == ResumeMode::kNever && comm.is_root())
      for (const auto& e : std::filesystem::directory_iterator(journal_dir))
        if (e.path().extension() == ".jsonl") std::filesystem::remove(e.path());
    return std::map<int64_t, ItemRecord>{};
  });
  comm.barrier();
  done = comm.collective([&] { return read_journals(journal_dir); });
  if (options.resume == ResumeMode::kRequire && done.empty())
    throw dist::CollectiveError(fmt::format("--resume require: no item journal in '{}'", journal_dir),
                                dist::CollectiveError::Kind::kInput, 0);
  std::vector<int64_t> todo;
  for (int64_t i = 0; i < n; ++i)
    if (!done.count(i)) todo.push_back(i);
  std::vector<int64_t> mine;
  for (size_t k = static_cast<size_t>(comm.rank()); k < todo.size(); k += static_cast<size_t>(comm.size()))
    mine.push_back(todo[k]);
  // A round: every rank works on up to `at_once` of its items, then the ranks agree (stop? failure?).
  const int64_t at_once = std::max<int64_t>(1, job.items_at_once());
  const int64_t per_rank = (static_cast<int64_t>(todo.size()) + comm.size() - 1) / comm.size();
  const int64_t rounds = (per_rank + at_once - 1) / at_once;

  const bool show = !options.quiet && config.get_string("output.progress") != "none";
  if (show)
    logging::info("relfm train '{}' ({}): {} {}, {} already done, {} to do on {} rank{}", job_name,
              config.get_string("job.kind"), n, job.item_unit(), done.size(), todo.size(), comm.size(),
              comm.size() > 1 ? "s" : "");

  // This run's journal: its name is unique per (rank count, rank, starting point).
  std::unique_ptr<Journal> journal = comm.collective([&] {
    return std::make_unique<Journal>(fmt::format("{}/journal-p{}-r{}-from{}.jsonl", journal_dir, comm.size(),
                                                 comm.rank(), done.size()));
  });
  std::map<int64_t, ItemRecord> fresh;
  const int64_t stop_after = config.get_int("debug.stop_after_items");
  bool stopped = false;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_print = t0;
  for (int64_t round = 0; round < rounds; ++round) {
    const size_t begin = static_cast<size_t>(round * at_once);
    const size_t end = std::min(mine.size(), begin + static_cast<size_t>(at_once));
    std::exception_ptr failure;
    if (begin < end) {
      std::vector<ItemOutcome> outcomes = process_items(job, std::vector<int64_t>(mine.begin() + begin, mine.begin() + end));
      // Journalled in item order whatever order the threads finished in; an item that threw is not.
      for (size_t k = 0; k < outcomes.size(); ++k) {
        if (outcomes[k].failure) {
          if (!failure) failure = outcomes[k].failure;
          continue;
        }
        const int64_t item = mine[begin + k];
        try {
          journal->append(journal_line(item, outcomes[k].record));
        } catch (...) {
          if (!failure) failure = std::current_exception();
          continue;
        }
        fresh[item] = std::move(outcomes[k].record);
      }
    }
    const bool stop_here =
        dist::stop_requested() || (stop_after > 0 && static_cast<int64_t>(fresh.size()) >= stop_after && round + 1 < rounds);
    int64_t flags[2] = {stop_here ? 1 : 0, failure ? 1 : 0};
    comm.allreduce_sum(flags, 2);
    if (flags[1] > 0) comm.agree(failure);
    if (show && std::chrono::steady_clock::now() - last_print > std::chrono::seconds(2)) {
      last_print = std::chrono::steady_clock::now();
      const double s = std::chrono::duration<double>(last_print - t0).count();
      const int64_t started = std::min<int64_t>((round + 1) * at_once * comm.size(), static_cast<int64_t>(todo.size()));
      logging::info("  {}/{} rounds, {:.1f} {}/s", round + 1, rounds, static_cast<double>(started) / s, job.item_unit());
    }
    if (flags[0] > 0) {
      stopped = true;
      break;
    }
  }
  journal.reset();

  // Everyone's new records to rank 0 (as journal lines: one text per item, no extra format).
  std::vector<std::string> lines;
  for (const auto& [i, r] : fresh) lines.push_back(journal_line(i, r));
  const std::vector<std::string> all = comm.allgather_strings(lines);
  for (const std::string& line : all) {
    const nlohmann::json j = nlohmann::json::parse(line);
    const int64_t item = j["item"].get<int64_t>();
    if (done.count(item)) continue;
    ItemRecord r;
    for (const auto& [k, v] : j["numbers"].items()) r.numbers[k] = v.is_number() ? v.get<double>() : std::nan("");
    for (const auto& [k, v] : j["texts"].items()) r.texts[k] = v.get<std::string>();
    done[item] = std::move(r);
  }
  const std::map<std::string, double> summary = comm.collective([&] { return job.summarize(done); });
  write_work_results(results_path, comm, config, job_name, n, done, summary, job.attrs(), job);
  if (comm.is_root()) {
    std::string line = fmt::format("{}: {}/{} {} done", job_name, done.size(), n, job.item_unit());
    for (const auto& [k, v] : summary) line += fmt::format(", {} {:.4g}", k, v);
    std::printf("%s (%s)\n", line.c_str(), results_path.c_str());
    std::fflush(stdout);
  }
  std::map<std::string, double> counters = job.run_counters();
  std::vector<double> values;
  for (const auto& [k, v] : counters) values.push_back(v);
  if (!values.empty()) {
    comm.allreduce_sum(values.data(), values.size());
    std::string line = "this run (not in the results):";
    size_t i = 0;
    for (const auto& [k, v] : counters) {
      line += fmt::format("{} {} {:.6g}", i == 0 ? "" : ",", k, values[i]);
      ++i;
    }
    logging::info("{}", line);
  }
  if (stopped) {
    logging::info("stopped with {} of {} {} done; run the same command again to resume", done.size(), n, job.item_unit());
    return dist::kExitCheckpointed;
  }
  return dist::kExitOk;
}

void inspect_work_results(const h5::File& f) {
  const int64_t n = f.attr_int("/", "num_items"), done = f.attr_int("/", "items_done");
  std::printf("work results of job '%s' (kind %s, format_version %lld), %lld rank(s): %lld of %lld items done%s\n",
              f.attr_string("/", "job").c_str(), f.attr_string("/", "job_kind").c_str(),
              static_cast<long long>(f.attr_int("/", "format_version")), static_cast<long long>(f.attr_int("/", "world_size")),
              static_cast<long long>(done), static_cast<long long>(n), done == n ? "" : " (incomplete: rerun to resume)");
  static const std::set<std::string> fixed = {"format", "format_version", "job", "job_kind", "world_size",
                                              "num_items", "items_done", "complete"};
  for (const std::string& name : f.attr_names("/")) {
    if (fixed.count(name)) continue;
    if (f.attr_is_string("/", name)) std::printf("  %-22s %s\n", name.c_str(), f.attr_string("/", name).c_str());
    else if (f.attr_is_integer("/", name)) std::printf("  %-22s %lld\n", name.c_str(), static_cast<long long>(f.attr_int("/", name)));
    else std::printf("  %-22s %g\n", name.c_str(), f.attr_double("/", name));
  }
  std::string fields;
  for (const std::string& name : f.list("/items"))
    if (name.size() < 8 || name.compare(name.size() - 8, 8, ".offsets") != 0) fields += " " + name;
  std::printf("  per-item fields:%s\n", fields.c_str());
}

}  // namespace relfm::jobs
