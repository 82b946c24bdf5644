#include "jobs/work_items.hpp"

#include "dist/runtime.hpp"
#include "io/h5.hpp"
#include "jobs/job_kinds.hpp"
#include "src/core/log.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <numeric>
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


// This rank's items not yet started, taken by its worker threads one at a time: a worker that finishes an
// item starts the next at once, so no item waits for a slower neighbour. Between the ranks' agreements the
// main thread may withdraw the unstarted items and refill the pool with a new share (the ranks re-deal them
// so that every rank has work until the last items).
class ItemPool {
 public:
  explicit ItemPool(int64_t start_cap) : cap_(start_cap) {}

  // Worker side: the next item, or -1 once the pool is closed (then the worker ends).
  int64_t take() {
    std::unique_lock lock(mutex_);
    wake_workers_.wait(lock, [&] { return closed_ || (!items_.empty() && (cap_ <= 0 || started_ < cap_)); });
    if (closed_) return -1;
    const int64_t item = items_.front();
    items_.pop_front();
    ++started_;
    ++in_flight_;
    return item;
  }
  void done(std::exception_ptr failure) {
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
      if (failure && !failure_) failure_ = failure;
    }
    wake_main_.notify_all();
  }

  // Main-thread side.
  void refill(const std::vector<int64_t>& items) {
    {
      std::lock_guard lock(mutex_);
      items_.assign(items.begin(), items.end());
    }
    wake_workers_.notify_all();
  }
  std::vector<int64_t> withdraw() {
    std::lock_guard lock(mutex_);
    std::vector<int64_t> out(items_.begin(), items_.end());
    items_.clear();
    return out;
  }
  // Ends the run for the workers: the unstarted items are dropped, the items in flight finish.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      items_.clear();
    }
    wake_workers_.notify_all();
  }
  // Waits until an item finishes or `timeout` passes.
  void wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    const int64_t before = started_ - in_flight_;
    wake_main_.wait_for(lock, timeout, [&] { return started_ - in_flight_ != before || failure_; });
  }
  struct State {
    int64_t unstarted = 0, in_flight = 0;
    bool may_start = true;  // below debug.stop_after_items (always, without it)
    bool failed = false;
  };
  State state() {
    std::lock_guard lock(mutex_);
    return {static_cast<int64_t>(items_.size()), in_flight_, cap_ <= 0 || started_ < cap_, static_cast<bool>(failure_)};
  }
  std::exception_ptr failure() {
    std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_workers_, wake_main_;
  std::deque<int64_t> items_;
  int64_t cap_, started_ = 0, in_flight_ = 0;
  bool closed_ = false;
  std::exception_ptr failure_;
};

// Deals `items` round-robin in item order over the ranks that may start items (`takers`, ascending):
// `rank`'s share (none if it is not a taker).
std::vector<int64_t> deal(std::vector<int64_t> items, const std::vector<int>& takers, int rank) {
  std::sort(items.begin(), items.end());
  std::vector<int64_t> share;
  const auto at = std::find(takers.begin(), takers.end(), rank);
  if (at == takers.end()) return share;
  for (size_t k = static_cast<size_t>(at - takers.begin()); k < items.size(); k += takers.size()) share.push_back(items[k]);
  return share;
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
  // Every rank works on its share with `at_once` worker threads; the ranks agree every tick (stop? failure?
  // work left?) and re-deal the unstarted items when their shares drift apart, so a fast rank never waits
  // for a slow item elsewhere, and all ranks run out of work together.
  const int64_t at_once = std::max<int64_t>(1, job.items_at_once());
  const int64_t stop_after = config.get_int("debug.stop_after_items");
  const bool show = !options.quiet && config.get_string("output.progress") != "none";
  if (show)
    logging::info("relfm train '{}' ({}): {} {}, {} already done, {} to do on {} rank{}, {} at once per rank", job_name,
                  config.get_string("job.kind"), n, job.item_unit(), done.size(), todo.size(), comm.size(),
                  comm.size() > 1 ? "s" : "", at_once);

  // This run's journal: its name is unique per (rank count, rank, starting point).
  std::unique_ptr<Journal> journal = comm.collective([&] {
    return std::make_unique<Journal>(fmt::format("{}/journal-p{}-r{}-from{}.jsonl", journal_dir, comm.size(),
                                                 comm.rank(), done.size()));
  });
  std::map<int64_t, ItemRecord> fresh;
  std::mutex fresh_mutex;  // guards `fresh` and the journal
  ItemPool pool(stop_after);
  std::vector<int> takers(static_cast<size_t>(comm.size()));
  std::iota(takers.begin(), takers.end(), 0);
  pool.refill(deal(todo, takers, comm.rank()));
  std::vector<std::thread> workers;
  for (int64_t w = 0; w < at_once; ++w)
    workers.emplace_back([&] {
      for (int64_t item = pool.take(); item >= 0; item = pool.take()) {
        std::exception_ptr failure;
        try {
          ItemRecord record = job.process(item);
          std::lock_guard lock(fresh_mutex);
          journal->append(journal_line(item, record));  // on disk before the item counts as done
          fresh[item] = std::move(record);
        } catch (...) {
          failure = std::current_exception();  // an item that threw is not journalled
        }
        pool.done(failure);
      }
    });
  const auto end_workers = [&] {
    pool.close();
    for (std::thread& t : workers) t.join();
    workers.clear();
  };
  // Whatever leaves this scope (an exception included) first ends the workers: a joinable thread's
  // destructor would terminate the process.
  struct JoinAtExit {
    std::function<void()> end;  // a copy of the lambda, which captures by reference
    ~JoinAtExit() { end(); }
  } join_at_exit{end_workers};

  bool stopped = false;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_print = t0;
  for (;;) {
    pool.wait(std::chrono::milliseconds(100));
    const ItemPool::State st = pool.state();
    const int64_t left = st.unstarted + st.in_flight;
    // Summed over the ranks: stop requests, failures, ranks with nothing more to start (debug.stop_after_items
    // reached and idle, or out of work), work left.
    int64_t flags[4] = {dist::stop_requested() ? 1 : 0, st.failed ? 1 : 0,
                        ((!st.may_start && st.in_flight == 0) || left == 0) ? 1 : 0, left};
    comm.allreduce_sum(flags, 4);
    const bool stop_here = flags[0] > 0 || (stop_after > 0 && flags[2] == comm.size() && flags[3] > 0);
    if (flags[1] > 0 || stop_here || flags[3] == 0) {
      end_workers();  // the items in flight finish and are journalled
      // A failure stops every rank with the failing rank's message (one that came while the items in
      // flight finished, too).
      if (comm.sum(static_cast<int64_t>(pool.state().failed)) > 0) comm.agree(pool.failure());
      stopped = stop_here;
      break;
    }
    // Shares drifted apart (a rank ran faster, or out of work), or a rank that may start no more holds some:
    // deal the unstarted items again over the ranks that may start them (-1: may not; -2: may not, holds some).
    const std::vector<int64_t> shares = comm.allgather(st.may_start ? st.unstarted : (st.unstarted > 0 ? -2 : -1));
    takers.clear();
    int64_t least = std::numeric_limits<int64_t>::max(), most = 0;
    bool stranded = false;
    for (int r = 0; r < comm.size(); ++r) {
      const int64_t share = shares[static_cast<size_t>(r)];
      stranded = stranded || share == -2;
      if (share < 0) continue;
      takers.push_back(r);
      least = std::min(least, share);
      most = std::max(most, share);
    }
    if (!takers.empty() && (stranded || most - least >= 2))
      pool.refill(deal(comm.allgatherv(pool.withdraw()), takers, comm.rank()));
    if (show && std::chrono::steady_clock::now() - last_print > std::chrono::seconds(2)) {
      last_print = std::chrono::steady_clock::now();
      const double s = std::chrono::duration<double>(last_print - t0).count();
      const int64_t finished = static_cast<int64_t>(todo.size()) - flags[3];
      logging::info("  {}/{} {} done in this run, {:.1f} {}/s", finished, todo.size(), job.item_unit(),
                    static_cast<double>(finished) / s, job.item_unit());
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
