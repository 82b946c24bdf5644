#include "io/csv.hpp"

#include "tests/src/mol/mol_test_util.hpp"

#include <gtest/gtest.h>

namespace relfm {
namespace {

using test::contains;
using test::input_error_of;
using test::ScratchDir;
using Fields = std::vector<std::string>;
using Indices = std::vector<int64_t>;

TEST(Csv, QuotedFieldsKeepCommasDoubledQuotesAndNewlines) {
  const CsvTable t = parse_csv("a,\"b,c\",d\n1,\"x \"\"y\"\"\",\"multi\nline\"\n2,,4\n", "mem.csv");
  EXPECT_EQ(t.header, (Fields{"a", "b,c", "d"}));
  ASSERT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.rows[0], (Fields{"1", "x \"y\"", "multi\nline"}));
  EXPECT_EQ(t.rows[1], (Fields{"2", "", "4"}));
  // The second row starts after the physical line break inside the quoted field.
  EXPECT_EQ(t.line_numbers, (std::vector<int64_t>{2, 4}));
}

TEST(Csv, AcceptsCrlfAndIgnoresTrailingEmptyLines) {
  const CsvTable t = parse_csv("a,b\r\n1,\"2\"\r\n3,4\r\n\r\n\n\n", "mem.csv");
  EXPECT_EQ(t.header, (Fields{"a", "b"}));
  ASSERT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.rows[0], (Fields{"1", "2"}));
  EXPECT_EQ(t.rows[1], (Fields{"3", "4"}));
}

TEST(Csv, LastLineWithoutNewlineAndHeaderOnlyFiles) {
  const CsvTable t = parse_csv("a,b\n1,2", "mem.csv");
  ASSERT_EQ(t.num_rows(), 1);
  EXPECT_EQ(t.rows[0], (Fields{"1", "2"}));
  EXPECT_EQ(parse_csv("a,b\n", "mem.csv").num_rows(), 0);
}

TEST(Csv, TrailingCommaIsAnEmptyLastField) {
  const CsvTable t = parse_csv("smiles,y\nCCO,\n", "mem.csv");
  EXPECT_EQ(t.rows[0], (Fields{"CCO", ""}));
}

TEST(Csv, WrongFieldCountNamesFileAndLine) {
  ScratchDir dir;
  const std::string path = dir.write("bad.csv", "a,b\n1,2\n3,4,5\n");
  EXPECT_EQ(input_error_of([&] { read_csv(path); }), path + ":3: expected 2 fields, found 3");
  EXPECT_EQ(input_error_of([&] { parse_csv("a,b,c\n1,2,3\n\"x\ny\",2\n", "m.csv"); }),
            "m.csv:3: expected 3 fields, found 2");
}

TEST(Csv, EmptyLineBeforeMoreRowsIsAnError) {
  EXPECT_EQ(input_error_of([] { parse_csv("a,b\n1,2\n\n3,4\n", "m.csv"); }), "m.csv:3: expected 2 fields, found 0");
}

TEST(Csv, UnterminatedQuoteNamesTheLineWhereItOpened) {
  const std::string message = input_error_of([] { parse_csv("a,b\n1,2\n3,\"oops\n4,5\n6,7\n", "m.csv"); });
  EXPECT_TRUE(contains(message, "m.csv:3:"));
  EXPECT_TRUE(contains(message, "unterminated"));
}

TEST(Csv, TextAfterClosingQuoteIsAnError) {
  EXPECT_TRUE(contains(input_error_of([] { parse_csv("a,b\n1,\"2\"x\n", "m.csv"); }), "m.csv:2:"));
}

TEST(Csv, EmptyFileOrMissingHeaderIsAnError) {
  EXPECT_TRUE(contains(input_error_of([] { parse_csv("", "m.csv"); }), "m.csv: empty file"));
  EXPECT_TRUE(contains(input_error_of([] { parse_csv("\n\n", "m.csv"); }), "m.csv: empty file"));
  EXPECT_TRUE(contains(input_error_of([] { parse_csv("\n1,2\n", "m.csv"); }), "m.csv:1: the header line is empty"));
}

TEST(Csv, MissingFileNamesPathAndReason) {
  ScratchDir dir;
  const std::string path = dir.file("nope.csv");
  EXPECT_EQ(input_error_of([&] { read_csv(path); }), "cannot open " + path + ": No such file or directory");
}

TEST(Csv, ReadsGzipBySuffixAndByMagicBytes) {
  ScratchDir dir;
  const std::string text = "smiles,y\nCCO,1\n\"C,C\",0\n";
  for (const std::string name : {"t.csv.gz", "t_without_suffix.csv"}) {
    const CsvTable t = read_csv(dir.write_gz(name, text));
    EXPECT_EQ(t.header, (Fields{"smiles", "y"})) << name;
    ASSERT_EQ(t.num_rows(), 2) << name;
    EXPECT_EQ(t.rows[1], (Fields{"C,C", "0"})) << name;
  }
}

TEST(Csv, CorruptGzipIsAnInputError) {
  ScratchDir dir;
  const std::string garbage = dir.write("garbage.csv.gz", std::string("\x1f\x8b\x08\x00", 4) + "not really deflate data");
  EXPECT_TRUE(contains(input_error_of([&] { read_csv(garbage); }), garbage + ": corrupt gzip stream"));

  std::string whole;
  {
    const std::string good = dir.write_gz("good.csv.gz", "smiles,y\n" + std::string(5000, 'C') + ",1\n");
    std::ifstream in(good, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string truncated = dir.write("truncated.csv.gz", whole.substr(0, whole.size() / 2));
  EXPECT_TRUE(contains(input_error_of([&] { read_csv(truncated); }), truncated + ": corrupt gzip stream"));

  const std::string plain = dir.write("plain.csv.gz", "smiles,y\nC,1\n");
  EXPECT_TRUE(contains(input_error_of([&] { read_csv(plain); }), plain + ": corrupt gzip stream"));
}

TEST(Csv, SiderHeaderHasQuotedNamesWithCommas) {
  const CsvTable t = read_csv(test::repo_moleculenet_dir() + "/sider.csv");
  ASSERT_EQ(t.header.size(), 28u);
  EXPECT_EQ(t.header[0], "smiles");
  EXPECT_EQ(t.header[11], "Neoplasms benign, malignant and unspecified (incl cysts and polyps)");
  EXPECT_EQ(t.num_rows(), 1427);
  EXPECT_EQ(t.line_numbers.back(), 1428);
  EXPECT_EQ(t.column_index("smiles"), 0);
  EXPECT_TRUE(contains(input_error_of([&] { t.column_index("no such column"); }), "sider.csv: no column named"));
}

TEST(ReadIndexFile, ReadsPlainAndGzipAndNamesBadLines) {
  test::ScratchDir dir;
  EXPECT_EQ(read_index_file(dir.write("a.csv", "3\n1\r\n2\n\n")), (Indices{3, 1, 2}));
  EXPECT_EQ(read_index_file(dir.write_gz("b.csv.gz", "0\n5\n")), (Indices{0, 5}));
  const std::string bad = dir.write("bad.csv", "0\n1\nx2\n");
  EXPECT_EQ(input_error_of([&] { read_index_file(bad); }),
            bad + ":3: cannot parse 'x2' as a row index (a non-negative integer)");
  const std::string negative = dir.write("negative.csv", "0\n-1\n");
  EXPECT_TRUE(contains(input_error_of([&] { read_index_file(negative); }), negative + ":2:"));
  const std::string gap = dir.write("gap.csv", "0\n\n1\n");
  EXPECT_TRUE(contains(input_error_of([&] { read_index_file(gap); }), gap + ":2:"));
}

}  // namespace
}  // namespace relfm
