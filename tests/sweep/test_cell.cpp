// Cell syntax: values, suffixes, lists, ranges, zip groups, and their errors.
#include <gtest/gtest.h>

#include "sweep/cell.h"

namespace sw = scalelab::sweep;
using sw::CellKind;

namespace {
std::vector<int64_t> ints(std::string_view text) {
  std::vector<int64_t> out;
  for (const auto& v : sw::parse_cell(text, CellKind::Int).values) out.push_back(v.i);
  return out;
}
std::vector<double> reals(std::string_view text) {
  std::vector<double> out;
  for (const auto& v : sw::parse_cell(text, CellKind::Real).values) out.push_back(v.d);
  return out;
}
std::string error_of(std::string_view text, CellKind kind) {
  try {
    sw::parse_cell(text, kind);
  } catch (const sw::CellError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Cell, NumbersWithSuffixesAreExact) {
  EXPECT_EQ(sw::parse_int("7B"), 7'000'000'000);
  EXPECT_EQ(sw::parse_int("125M"), 125'000'000);
  EXPECT_EQ(sw::parse_int("20k"), 20'000);
  EXPECT_EQ(sw::parse_int("1.5k"), 1'500);
  EXPECT_EQ(sw::parse_int("1.3B"), 1'300'000'000);
  EXPECT_EQ(sw::parse_int("2T"), 2'000'000'000'000);
  EXPECT_EQ(sw::parse_int("1e18"), 1'000'000'000'000'000'000);
  EXPECT_EQ(sw::parse_int("  768 "), 768);
  EXPECT_EQ(sw::parse_int("-3"), -3);
  EXPECT_EQ(*sw::parse_real("1e18"), 1e18);
  EXPECT_EQ(*sw::parse_real("3e-4"), 3e-4);
  EXPECT_EQ(*sw::parse_real("2.5e18"), 2.5e18);
  EXPECT_EQ(*sw::parse_real("1.5k"), 1500.0);
  EXPECT_EQ(*sw::parse_real("0.1"), 0.1);
  EXPECT_FALSE(sw::parse_real("abc"));
  EXPECT_FALSE(sw::parse_real("12x"));
  EXPECT_FALSE(sw::parse_real("inf"));
  EXPECT_FALSE(sw::parse_real("1e999"));
}

TEST(Cell, IntegerErrors) {
  EXPECT_EQ(error_of("twelve", CellKind::Int), "bad number 'twelve'");
  EXPECT_EQ(error_of("12.5", CellKind::Int), "'12.5' is not an integer");
  EXPECT_EQ(error_of("1e30", CellKind::Int), "'1e30' is too large");
  EXPECT_EQ(error_of("1.5x", CellKind::Real), "bad number '1.5x'");
}

TEST(Cell, ValueAndList) {
  EXPECT_EQ(ints("12"), (std::vector<int64_t>{12}));
  EXPECT_EQ(ints("1|2|3"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(ints(" 4 | 8 "), (std::vector<int64_t>{4, 8}));
  auto arch = sw::parse_cell("softmax|hybrid(lightning,softmax@7:1)", CellKind::Text).values;
  ASSERT_EQ(arch.size(), 2u);
  EXPECT_EQ(arch[1].text, "hybrid(lightning,softmax@7:1)");
  EXPECT_EQ(error_of("1||2", CellKind::Int), "empty item in list '1||2'");
  // Labels are taken whole: a name may contain '|' or '..'.
  EXPECT_EQ(sw::parse_cell("a|b..c", CellKind::Label).values.at(0).text, "a|b..c");
}

TEST(Cell, GeometricRange) {
  EXPECT_EQ(ints("128..1024*2"), (std::vector<int64_t>{128, 256, 512, 1024}));
  EXPECT_EQ(ints("128..1000*2"), (std::vector<int64_t>{128, 256, 512}));
  EXPECT_EQ(ints("1k..1M*10"), (std::vector<int64_t>{1000, 10000, 100000, 1000000}));
  EXPECT_EQ(reals("1e18..1e20*10"), (std::vector<double>{1e18, 1e19, 1e20}));
  // Clean decimals: the same doubles as typing the values, hence the same run ids.
  EXPECT_EQ(reals("1e-3..4e-3*2"), (std::vector<double>{0.001, 0.002, 0.004}));
  EXPECT_EQ(reals("1e-4..1e-2*10"), (std::vector<double>{1e-4, 1e-3, 1e-2}));
}

TEST(Cell, ArithmeticRange) {
  EXPECT_EQ(ints("1..4+1"), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(ints("0..10+3"), (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(ints("5..5+1"), (std::vector<int64_t>{5}));
  // The '+' of an exponent is not the step.
  EXPECT_EQ(reals("1e+3..3e+3+1e+3"), (std::vector<double>{1000, 2000, 3000}));
  EXPECT_EQ(reals("0.1..0.3+0.1"), (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(ints("64|128..512*2|1000"), (std::vector<int64_t>{64, 128, 256, 512, 1000}));
}

TEST(Cell, RangeErrors) {
  EXPECT_EQ(error_of("512..256*2", CellKind::Int), "empty range '512..256*2' (start is above stop)");
  EXPECT_EQ(error_of("4..1+1", CellKind::Int), "empty range '4..1+1' (start is above stop)");
  EXPECT_EQ(error_of("1..8*1", CellKind::Int), "range '1..8*1' needs a factor k > 1");
  EXPECT_EQ(error_of("0..8*2", CellKind::Int), "range '0..8*2' needs start > 0");
  EXPECT_EQ(error_of("1..8+0", CellKind::Int), "range '1..8+0' needs a step k > 0");
  EXPECT_EQ(error_of("1..8", CellKind::Int),
            "range '1..8' needs a step: start..stop*k or start..stop+k");
  EXPECT_EQ(error_of("1..x*2", CellKind::Int), "bad number 'x' in range '1..x*2'");
  EXPECT_EQ(error_of("100..400*1.5", CellKind::Int),
            "range '100..400*1.5' gives 337.5, which is not an integer");
  EXPECT_EQ(error_of("1..1e7+1", CellKind::Int), "range '1..1e7+1' has more than 1000000 values");
}

TEST(Cell, ZipGroups) {
  sw::Cell c = sw::parse_cell("zip:6|12|24", CellKind::Int);
  ASSERT_TRUE(c.zip);
  EXPECT_EQ(*c.zip, "");
  EXPECT_EQ(c.values.size(), 3u);
  c = sw::parse_cell("zip.opt:1e-3|2e-3", CellKind::Real);
  EXPECT_EQ(*c.zip, "opt");
  EXPECT_EQ(c.values.at(1).d, 2e-3);
  EXPECT_FALSE(sw::parse_cell("12", CellKind::Int).zip);
  EXPECT_EQ(error_of("zip:", CellKind::Int), "zip group has no values");
}

TEST(Cell, Booleans) {
  for (const char* t : {"true", "TRUE", "yes", "1", "tied"})
    EXPECT_TRUE(sw::parse_cell(t, CellKind::Bool).values.at(0).b) << t;
  for (const char* f : {"false", "No", "0", "untied"})
    EXPECT_FALSE(sw::parse_cell(f, CellKind::Bool).values.at(0).b) << f;
  EXPECT_EQ(sw::parse_cell("true|false", CellKind::Bool).values.size(), 2u);
  EXPECT_EQ(error_of("maybe", CellKind::Bool),
            "bad boolean 'maybe' (true/false, yes/no, 1/0, tied/untied)");
}
