// Stage gates: the grammar, the verdicts with their numbers, and the errors a
// sheet's gate cell gets at plan time.
#include <gtest/gtest.h>

#include <map>

#include "sweep/gate.h"
#include "sweep/planner.h"
#include "sweep/sheet.h"

namespace sw = scalelab::sweep;

namespace {

// Numbers as a finished stage would give them.
struct Values : sw::GateValues {
  std::map<std::string, double> exponents, largest;
  double exponent(const std::string& a) override {
    if (!exponents.count(a)) throw sw::GateError("no done runs of '" + a + "'");
    return exponents.at(a);
  }
  double loss(const std::string& a, const std::string& which) override {
    if (which != "largest" || !largest.count(a)) throw sw::GateError("no " + which + " run of " + a);
    return largest.at(a);
  }
};

std::string plan_error(const std::string& csv) {
  try {
    sw::plan_sheet(sw::parse_sheet(csv, "g.csv", ','));
  } catch (const sw::SheetErrors& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Gate, WithinAndComparisonsWithTheirNumbers) {
  Values v;
  v.exponents = {{"lightning", 0.071}, {"softmax", 0.065}, {"hybrid(lightning,softmax@7:1)", 0.09}};
  v.largest = {{"hgrn2", 3.03}, {"softmax", 3.0}};
  auto g = sw::Gate::parse("exponent(lightning) within 0.02 of exponent(softmax)");
  auto r = g.evaluate(v);
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.detail, "exponent(lightning) = 0.071; exponent(softmax) = 0.065; |0.071 - 0.065| = "
                      "0.006 <= 0.02 -> pass");
  r = sw::Gate::parse("loss(hgrn2, largest) <= 1.01 * loss(softmax, largest)").evaluate(v);
  EXPECT_TRUE(r.pass) << r.detail;  // 3.03 <= 3.03
  r = sw::Gate::parse("loss(hgrn2, largest) < 1.005 * loss(softmax, largest) and exponent(softmax) > 0")
          .evaluate(v);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.detail.find("3.03 < 3.015: fails"), std::string::npos) << r.detail;
  EXPECT_TRUE(sw::Gate::parse("exponent('hybrid(lightning,softmax@7:1)') >= (0.1 - 0.02) / 1")
                  .evaluate(v).pass);
  EXPECT_THROW(sw::Gate::parse("exponent(mamba2) > 0").evaluate(v), sw::GateError);
}

TEST(Gate, ParseErrorsSayWhereAndWhatWasExpected) {
  auto msg = [](const std::string& text) {
    try {
      sw::Gate::parse(text);
    } catch (const sw::GateError& e) {
      return std::string(e.what());
    }
    return std::string("parsed");
  };
  EXPECT_EQ(msg("exponent(softmax) > "), "gate: expected a number, '(' or exponent(ARCH) / "
                                         "loss(ARCH, largest|smallest|best) at 21, found 'end of the gate'");
  EXPECT_EQ(msg("loss(softmax, biggest) < 3"), "gate: expected largest, smallest or best at 15, found 'biggest'");
  EXPECT_EQ(msg("exponent(softmax) within 0.02"), "gate: expected 'of' at 30, found 'end of the gate'");
  EXPECT_EQ(msg("3 < 4 or 1 < 2"), "gate: expected 'and' or the end of the gate at 7, found 'or'");
  EXPECT_EQ(msg("exponent(softmax) ~ 1"), "gate: unexpected '~' at 19");
}

TEST(Gate, SheetGatesAreCheckedWhenPlanned) {
  const std::string head = "name,stage,gate,arch,d_model,tokens\n";
  EXPECT_EQ(plan_error(head + "a,s1,,softmax,64,1M\nb,s2,exponent(softmax) > 0,softmax,128,1M\n"), "");
  EXPECT_EQ(plan_error(head + "a,s1,exponent(softmax) > 0,softmax,64,1M\n"),
            "g.csv:2:gate: the first stage has no stage before it to gate on");
  EXPECT_EQ(plan_error(head + "a,s1,,softmax,64,1M\nb,s2,exponent(softmax) >,softmax,128,1M\n"),
            "g.csv:3:gate: gate: expected a number, '(' or exponent(ARCH) / loss(ARCH, "
            "largest|smallest|best) at 20, found 'end of the gate'");
  EXPECT_EQ(plan_error(head + "a,s1,,softmax,64,1M\nb,s2,exponent(softmax) > 0,softmax,128,1M\n"
                              "c,s2,exponent(softmax) > 1,softmax,256,1M\n"),
            "g.csv:4:gate: stage 's2' already has gate 'exponent(softmax) > 0' (every row of a "
            "stage gives the same gate, or none)");
  const auto plan = sw::plan_sheet(sw::parse_sheet(
      head + "a,s1,,softmax,64,1M\nb,s2,exponent(softmax) > 0,softmax,128,1M\nc,s2,,softmax,256,1M\n",
      "g.csv", ','));
  ASSERT_EQ(plan.stages.size(), 2u);
  EXPECT_EQ(plan.stages[1].name, "s2");
  EXPECT_EQ(plan.stages[1].gate, "exponent(softmax) > 0");
}

TEST(Sheet, SemicolonAndTabSeparatedCsvAreDetectedFromTheHeader) {
  EXPECT_EQ(sw::sniff_delimiter("x.csv", "# a, comment\nname;arch;tokens\na;softmax;1,5M\n"), ';');
  EXPECT_EQ(sw::sniff_delimiter("x.csv", "name\tarch\ttokens\n"), '\t');
  EXPECT_EQ(sw::sniff_delimiter("x.csv", "name,arch,tokens\n"), ',');
  EXPECT_EQ(sw::sniff_delimiter("x.tsv", "name,arch,tokens\n"), '\t');
  EXPECT_EQ(sw::sniff_delimiter("x.txt", "name\n"), ',');
}
