// Readers of LRA's ListOps TSV and byte-level text TSV (io/sequence_files.hpp): what they read, and the
// bad inputs the issue names (a line without a label, too long, empty), each naming file and line.
#include "io/sequence_files.hpp"

#include "src/seq/listops.hpp"
#include "tests/src/mol/mol_test_util.hpp"

#include <gtest/gtest.h>


namespace relfm {
namespace {

using test::contains;
using test::input_error_of;
using test::ScratchDir;

std::string write(const ScratchDir& dir, const std::string& name, const std::string& text) { return dir.write(name, text); }

TEST(SequenceFiles, ReadsLrasListOpsTsv) {
  ScratchDir dir;
  const std::string path = write(dir, "basic_val.tsv",
                                 "Source\tTarget\n( ( ( ( [MAX 4 ) 3 ) ( ( [MED 2 ) 9 ) ] ) ] )\t5\n( ( [SM 7 ) 8 ] )\t5\n");
  const SequenceSet s = read_listops_tsv(path, 100, false);
  ASSERT_EQ(s.size(), 2);
  EXPECT_EQ(s.labels, (std::vector<int32_t>{5, 5}));
  const std::vector<int32_t> second = {listops::kSumMod, 8, 9, listops::kClose};
  EXPECT_EQ(std::vector<int32_t>(s.sequence(1).begin(), s.sequence(1).end()), second);
}

TEST(SequenceFiles, ListOpsErrorsNameTheFileAndLine) {
  ScratchDir dir;
  auto error = [&](const std::string& text, int64_t max = 100, bool truncate = false) {
    const std::string path = write(dir, "bad.tsv", text);
    return input_error_of([&] { read_listops_tsv(path, max, truncate); });
  };
  EXPECT_TRUE(contains(error("Source\tTarget\n( [MAX 4 3 ] )\n"), "bad.tsv, line 2")) << "no tab";
  EXPECT_TRUE(contains(error("Source\tTarget\n( [MAX 4 3 ] )\t3\n"), "the file says 3")) << "wrong value";
  EXPECT_TRUE(contains(error("Source\tTarget\n( [MAX 4 [FOO 3 ] )\t4\n"), "line 2")) << "unknown symbol";
  EXPECT_TRUE(contains(error("Source\tTarget\n( [MAX 4 3 ] )\tx\n"), "not a non-negative integer"));
  EXPECT_TRUE(contains(error("Source\tTarget\n( [MAX 4 3 ] )\t4\n", 3), "more than the maximum length 3"));
  EXPECT_TRUE(contains(error("Source\tTarget\n"), "no sequences"));
}

TEST(SequenceFiles, ReadsByteLevelTextAndTruncatesOnRequest) {
  ScratchDir dir;
  const std::string path = write(dir, "t.tsv", "label\ttext\n1\tab\n0\t\xc3\xa9t\xc3\xa9 long\n");
  const SequenceSet s = read_text_tsv(path, 4, true);
  ASSERT_EQ(s.size(), 2);
  EXPECT_EQ(s.labels, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(std::vector<int32_t>(s.sequence(0).begin(), s.sequence(0).end()), (std::vector<int32_t>{'a' + 1, 'b' + 1}));
  EXPECT_EQ(s.sequence(1).size(), 4u);
  EXPECT_EQ(s.sequence(1)[0], 0xc3 + 1) << "UTF-8 bytes, not characters";
}

TEST(SequenceFiles, TextErrorsNameTheFileAndLine) {
  ScratchDir dir;
  auto error = [&](const std::string& text) {
    const std::string path = write(dir, "c.tsv", text);
    return input_error_of([&] { read_text_tsv(path, 5, false); });
  };
  EXPECT_TRUE(contains(error("1\tok\nno label here\n"), "c.tsv, line 2: no label"));
  EXPECT_TRUE(contains(error("1\tok\n-2\tneg\n"), "line 2"));
  EXPECT_TRUE(contains(error("1\t\n"), "line 1: the sequence is empty"));
  EXPECT_TRUE(contains(error("1\ttoo long text\n"), "more than the maximum length 5"));
}

}  // namespace
}  // namespace relfm
