#include "jobs/sequences_job.hpp"

#include "io/sequence_files.hpp"
#include "io/sequences.hpp"
#include "src/seq/listops.hpp"

#include <cstdio>

namespace relfm::jobs {
namespace {

SequenceSet generated(const listops::GeneratorConfig& config, int64_t from, int64_t to,
                      const std::vector<listops::Example>& all) {
  SequenceSet s;
  for (int64_t i = from; i < to; ++i) s.add(all[static_cast<size_t>(i)].tokens, all[static_cast<size_t>(i)].label);
  (void)config;
  return s;
}

}  // namespace

int run_sequences(const dist::Comm& comm, const SequencesOptions& o) {
  // Every rank builds the same shard (deterministic); rank 0's copy is written.
  const SequenceShard shard = comm.collective([&] {
    const int sources = int(o.listops) + int(!o.lra_dir.empty()) + int(!o.text_tsv.empty());
    if (sources != 1) fail_input("relfm sequences: give exactly one of --listops, --lra-dir, --text-tsv");
    SequenceShard s;
    if (o.listops) {
      if (o.train < 1 || o.valid < 0 || o.test < 0) fail_input("relfm sequences: --train must be positive, --valid and --test not negative");
      listops::GeneratorConfig c;
      c.seed = o.seed;
      c.min_length = o.min_length;
      c.max_length = o.max_length;
      c.max_depth = o.max_depth;
      c.max_args = o.max_args;
      const auto all = listops::generate(c, o.train + o.valid + o.test);
      s.dataset = "listops";
      s.train = generated(c, 0, o.train, all);
      s.valid = generated(c, o.train, o.train + o.valid, all);
      s.test = generated(c, o.train + o.valid, o.train + o.valid + o.test, all);
      s.source = fmt::format("LRA ListOps generator (relfm), seed {}, depth <= {}, 2-{} arguments, lengths in ({}, {})",
                             o.seed, c.max_depth, c.max_args, c.min_length, c.max_length);
      s.vocab_size = listops::kVocabularySize;
      s.num_classes = 10;
    } else if (!o.lra_dir.empty()) {
      const std::string d = o.lra_dir + "/basic_";
      s.dataset = "listops";
      s.train = read_listops_tsv(d + "train.tsv", o.max_tokens, o.truncate);
      s.valid = read_listops_tsv(d + "val.tsv", o.max_tokens, o.truncate);
      s.test = read_listops_tsv(d + "test.tsv", o.max_tokens, o.truncate);
      s.source = "LRA release " + d + "{train,val,test}.tsv";
      s.vocab_size = listops::kVocabularySize;
      s.num_classes = 10;
    } else {
      if (o.text_tsv.size() != 3) fail_input("relfm sequences: --text-tsv takes three files (train, valid, test)");
      s.dataset = "text";
      s.train = read_text_tsv(o.text_tsv[0], o.max_tokens, o.truncate);
      s.valid = read_text_tsv(o.text_tsv[1], o.max_tokens, o.truncate);
      s.test = read_text_tsv(o.text_tsv[2], o.max_tokens, o.truncate);
      s.source = fmt::format("byte-level text TSV {}, {}, {}", o.text_tsv[0], o.text_tsv[1], o.text_tsv[2]);
      s.vocab_size = kByteVocabularySize;
      int32_t top = 0;
      for (const SequenceSet* set : {&s.train, &s.valid, &s.test})
        for (int32_t y : set->labels) top = std::max(top, y);
      s.num_classes = std::max<int64_t>(2, top + 1);
    }
    return s;
  });
  write_sequence_shard(o.out, comm, shard);
  if (comm.is_root() && !o.quiet) {
    std::printf("%s: %s, %lld / %lld / %lld sequences (train / valid / test)\n", o.out.c_str(), shard.source.c_str(),
                static_cast<long long>(shard.train.size()), static_cast<long long>(shard.valid.size()),
                static_cast<long long>(shard.test.size()));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace relfm::jobs
