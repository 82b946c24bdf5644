#include "jobs/tp_calls.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

namespace relfm::jobs {

namespace {

const std::vector<std::string>& number_columns() {
  static const std::vector<std::string> c = {"layer",         "node",     "sample",  "ok",    "parsed_ok", "seconds",
                                             "prompt_tokens", "completion_tokens", "attempts"};
  return c;
}
const std::vector<std::string>& text_columns() {
  static const std::vector<std::string> c = {"step", "prompt", "reply", "parsed", "error"};
  return c;
}

}  // namespace

std::string calls_to_jsonl(const std::vector<reasoning::CallRecord>& calls) {
  std::string out;
  for (const reasoning::CallRecord& c : calls) {
    nlohmann::json j = {{"step", c.step},       {"layer", c.layer},
                        {"node", c.node},       {"sample", c.sample},
                        {"prompt", c.prompt},   {"reply", c.reply},
                        {"parsed", c.parsed},   {"ok", c.ok ? 1 : 0},
                        {"parsed_ok", c.parsed_ok ? 1 : 0},
                        {"error", c.error},     {"seconds", c.seconds},
                        {"prompt_tokens", c.prompt_tokens},
                        {"completion_tokens", c.completion_tokens},
                        {"attempts", c.attempts}};
    // Invalid UTF-8 from a server must not make the record unwritable: replace it.
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return out;
}

CallTotals total_of(const std::vector<reasoning::CallRecord>& calls) {
  CallTotals t;
  for (const reasoning::CallRecord& c : calls) {
    t.prompt_tokens += static_cast<double>(c.prompt_tokens);
    t.completion_tokens += static_cast<double>(c.completion_tokens);
    t.http_attempts += static_cast<double>(c.attempts);
    t.failed += !c.ok;
    t.seconds += c.seconds;
  }
  return t;
}

void write_calls_table(h5::File& f, const std::map<int64_t, ItemRecord>& records) {
  std::vector<int64_t> items;
  std::map<std::string, std::vector<double>> numbers;
  std::map<std::string, std::vector<uint8_t>> chars;
  std::map<std::string, std::vector<int64_t>> offsets;
  for (const std::string& t : text_columns()) offsets[t] = {0};
  for (const auto& [item, record] : records) {
    const auto it = record.texts.find("_calls");
    if (it == record.texts.end()) continue;
    std::stringstream lines(it->second);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      items.push_back(item);
      for (const std::string& c : number_columns())
        numbers[c].push_back(j.contains(c) && j[c].is_number() ? j[c].get<double>() : std::nan(""));
      for (const std::string& c : text_columns()) {
        const std::string text = j.value(c, std::string());
        chars[c].insert(chars[c].end(), text.begin(), text.end());
        offsets[c].push_back(static_cast<int64_t>(chars[c].size()));
      }
    }
  }
  f.write_replicated("/calls/item", items);
  for (const std::string& c : number_columns()) f.write_replicated("/calls/" + c, numbers[c]);
  for (const std::string& c : text_columns()) {
    f.write_replicated("/calls/" + c + ".chars", chars[c]);
    f.write_replicated("/calls/" + c + ".offsets", offsets[c]);
  }
}

}  // namespace relfm::jobs
