#include "io/sequences.hpp"

#include "io/h5.hpp"

#include <algorithm>
#include <cstdio>

namespace relfm {
namespace {

constexpr const char* kSplits[] = {"train", "valid", "test"};

void check_set(const std::string& where, const SequenceSet& s, int64_t vocab, int64_t classes) {
  const auto n = static_cast<int64_t>(s.labels.size());
  if (static_cast<int64_t>(s.offsets.size()) != n + 1 || s.offsets.front() != 0 ||
      s.offsets.back() != static_cast<int64_t>(s.tokens.size()))
    fail_input("{}: offsets ({}) do not describe {} sequences of {} tokens", where, s.offsets.size(), n, s.tokens.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t b = s.offsets[static_cast<size_t>(i)], e = s.offsets[static_cast<size_t>(i) + 1];
    if (e <= b) fail_input("{}: sequence {} is empty", where, i);
    for (int64_t k = b; k < e; ++k)
      if (s.tokens[static_cast<size_t>(k)] < 0 || s.tokens[static_cast<size_t>(k)] >= vocab)
        fail_input("{}: sequence {} has token {} at position {}, outside the vocabulary [0, {})", where, i,
                   s.tokens[static_cast<size_t>(k)], k - b, vocab);
    if (s.labels[static_cast<size_t>(i)] < 0 || s.labels[static_cast<size_t>(i)] >= classes)
      fail_input("{}: sequence {} has label {}, outside [0, {})", where, i, s.labels[static_cast<size_t>(i)], classes);
  }
}

const SequenceSet& split_of(const SequenceShard& s, int k) { return k == 0 ? s.train : k == 1 ? s.valid : s.test; }
SequenceSet& split_of(SequenceShard& s, int k) { return k == 0 ? s.train : k == 1 ? s.valid : s.test; }

}  // namespace

void write_sequence_shard(const std::string& path, const dist::Comm& comm, const SequenceShard& shard) {
  comm.collective([&] {
    if (shard.vocab_size < 1 || shard.num_classes < 2)
      fail_input("'{}': vocabulary {} and {} classes describe no task", path, shard.vocab_size, shard.num_classes);
    for (int k = 0; k < 3; ++k)
      check_set(fmt::format("'{}' {}", path, kSplits[k]), split_of(shard, k), shard.vocab_size, shard.num_classes);
    if (shard.train.size() == 0) fail_input("'{}': the training split is empty", path);
  });
  int64_t longest = 0;
  for (int k = 0; k < 3; ++k) longest = std::max(longest, split_of(shard, k).max_length());
  h5::write_atomically(path, comm, [&](h5::File& f) {
    f.set_attr("/", "format", std::string(kSequencesFormat));
    f.set_attr("/", "format_version", kSequencesFormatVersion);
    f.set_attr("/", "dataset", shard.dataset);
    f.set_attr("/", "vocab_size", shard.vocab_size);
    f.set_attr("/", "num_classes", shard.num_classes);
    f.set_attr("/", "max_length", longest);
    f.set_attr("/", "source", shard.source);
    f.set_attr("/", "created_by", std::string("relfm sequences"));
    for (int k = 0; k < 3; ++k) {
      const SequenceSet& s = split_of(shard, k);
      const std::string g = std::string("/") + kSplits[k];
      f.create_group(g);
      f.write_replicated(g + "/tokens", s.tokens);
      f.write_replicated(g + "/offsets", s.offsets);
      f.write_replicated(g + "/labels", s.labels);
    }
  });
}

SequenceShard read_sequence_shard(const std::string& path, const dist::Comm& comm) {
  return comm.collective([&] {
    SequenceShard shard;
    h5::File f = h5::File::open(path, comm);
    f.expect_format(kSequencesFormat, kSequencesFormatVersion);
    shard.dataset = f.attr_string("/", "dataset");
    shard.vocab_size = f.attr_int("/", "vocab_size");
    shard.num_classes = f.attr_int("/", "num_classes");
    shard.source = f.attr_string("/", "source");
    for (int k = 0; k < 3; ++k) {
      SequenceSet& s = split_of(shard, k);
      const std::string g = std::string("/") + kSplits[k];
      s.tokens = f.read_rows<int32_t>(g + "/tokens");
      s.offsets = f.read_rows<int64_t>(g + "/offsets");
      s.labels = f.read_rows<int32_t>(g + "/labels");
      check_set(fmt::format("'{}' {}", path, kSplits[k]), s, shard.vocab_size, shard.num_classes);
    }
    return shard;
  });
}

void inspect_sequences(const h5::File& f) {
  std::printf("sequence shard (format_version %lld)\n", static_cast<long long>(f.attr_int("/", "format_version")));
  std::printf("  dataset        %s: vocabulary %lld, %lld classes, longest sequence %lld tokens\n",
              f.attr_string("/", "dataset").c_str(), static_cast<long long>(f.attr_int("/", "vocab_size")),
              static_cast<long long>(f.attr_int("/", "num_classes")), static_cast<long long>(f.attr_int("/", "max_length")));
  std::printf("  source         %s\n", f.attr_string("/", "source").c_str());
  for (const char* split : kSplits) {
    const std::string g = std::string("/") + split;
    const int64_t n = f.dims(g + "/labels")[0], t = f.dims(g + "/tokens")[0];
    std::printf("  %-14s %lld sequences, %lld tokens (mean %.1f)\n", split, static_cast<long long>(n),
                static_cast<long long>(t), n > 0 ? static_cast<double>(t) / static_cast<double>(n) : 0.0);
  }
}

}  // namespace relfm
