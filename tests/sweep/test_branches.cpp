// The `branches` column: parents and their branch runs, exact accounting of
// what the branches cost and save, the expanded-sheet round trip, and errors.
#include <gtest/gtest.h>

#include <sstream>

#include "models/spec/wsd.h"
#include "sweep/output.h"
#include "sweep/planner.h"

namespace sw = scalelab::sweep;
namespace spec = scalelab::spec;

namespace {

sw::Plan plan(const std::string& text) {
  return sw::plan_sheet(sw::parse_sheet(text, "b.csv", ','));
}

std::string errors_of(const std::string& text) {
  try {
    plan(text);
  } catch (const sw::SheetErrors& e) {
    return e.what();
  }
  return "";
}

// 80 steps of 2048 tokens; branches at 20, 40 and 80 steps (the middle one as a
// token count).
const char* kSheet =
    "name,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,warmup,schedule,"
    "decay_shape,branches\n"
    "w,softmax,2,zip:32|64,zip:2|4,256,128,163840,2048,8,wsd,1-sqrt,0.25|81920|1\n";

}  // namespace

TEST(PlanBranches, ParentsAreFollowedByTheirBranches) {
  const sw::Plan p = plan(kSheet);
  ASSERT_EQ(p.runs.size(), 8u);  // 2 sizes x (parent + 3 branches)
  const sw::PlannedRun& parent = p.runs[0];
  EXPECT_EQ(parent.spec.branches, (std::vector<int64_t>{40960, 81920, 163840}));
  EXPECT_EQ(parent.row.tokens, 64 * 2048);  // the stable phase, to the last branch point
  EXPECT_EQ(parent.trained_tokens, 64 * 2048);
  EXPECT_DOUBLE_EQ(parent.row.flops, parent.flops_per_token * 64 * 2048);
  const int64_t steps[] = {16, 32, 64}, budgets[] = {40960, 81920, 163840};
  for (int i = 0; i < 3; ++i) {
    const sw::PlannedRun& b = p.runs[1 + i];
    EXPECT_EQ(b.spec.branch_of, parent.row.id);
    EXPECT_EQ(b.spec.branch_step, steps[i]);
    EXPECT_EQ(b.spec.decay_shape, "1-sqrt");
    EXPECT_EQ(b.row.tokens, budgets[i]);  // the point it measures
    EXPECT_DOUBLE_EQ(b.row.flops, b.flops_per_token * static_cast<double>(budgets[i]));
    EXPECT_EQ(b.trained_tokens, budgets[i] - steps[i] * 2048);  // its cooldown only
    EXPECT_EQ(b.row.id, spec::run_id(b.spec));
    EXPECT_EQ(b.row.name, "w");
  }
  EXPECT_EQ(p.runs[4].spec.branches.size(), 3u);
  EXPECT_EQ(p.runs[5].spec.branch_of, p.runs[4].row.id);
}

TEST(PlanBranches, BudgetCountsWhatIsTrainedAndWhatBranchesSave) {
  const sw::Plan p = plan(kSheet);
  const sw::Budget b = sw::budget(p);
  double fpt = p.runs[0].flops_per_token;
  // Per size: 64 stable steps + 4 + 8 + 16 cooldown steps, against 20 + 40 + 80
  // from-scratch steps: 92 of 140 steps, a 34.3% saving.
  EXPECT_EQ(b.total.parents, 2);
  EXPECT_EQ(b.total.branches, 6);
  const double fpt2 = p.runs[4].flops_per_token;
  EXPECT_DOUBLE_EQ(b.total.wsd_flops, 92 * 2048 * (fpt + fpt2));
  EXPECT_DOUBLE_EQ(b.total.scratch_flops, 140 * 2048 * (fpt + fpt2));
  EXPECT_DOUBLE_EQ(b.total.flops, b.total.wsd_flops);
  EXPECT_NEAR(b.total.scratch_gpu_hours / b.total.wsd_gpu_hours, 140.0 / 92.0, 1e-12);
  std::ostringstream out;
  sw::print_budget(out, p, b);
  EXPECT_NE(out.str().find("2 parent runs (stable phase) and 6 cooldown branches"),
            std::string::npos) << out.str();
  EXPECT_NE(out.str().find("the branches save 34%"), std::string::npos) << out.str();
  std::ostringstream table;
  sw::print_runs_table(table, p);
  EXPECT_NE(table.str().find("parent of 3"), std::string::npos);
  EXPECT_NE(table.str().find("branch@32"), std::string::npos);
  const auto j = sw::plan_json(p, b);
  EXPECT_EQ(j["total"]["wsd"]["branches"], 6);
  EXPECT_EQ(j["runs"][1]["spec"]["branch_of"], p.runs[0].row.id);
}

TEST(PlanBranches, ExpandedSheetReplansToTheSameParentsAndBranches) {
  const sw::Plan p = plan(kSheet);
  std::ostringstream out;
  sw::write_expanded(out, p, ',');
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);  // header + 2 parents
  EXPECT_NE(text.find("40960|81920|163840"), std::string::npos);
  const sw::Plan back = sw::plan_sheet(sw::parse_sheet(text, "expanded", ','));
  ASSERT_EQ(back.runs.size(), p.runs.size());
  for (size_t i = 0; i < p.runs.size(); ++i) EXPECT_EQ(back.runs[i].row.id, p.runs[i].row.id) << i;
}

TEST(PlanBranches, BadBranchCellsNameRowAndColumn) {
  const std::string head = "arch,tokens,batch_tokens,seq_len,warmup,schedule,branches\n";
  EXPECT_EQ(errors_of(head + "softmax,163840,2048,128,8,cosine,0.5|1\n"),
            "b.csv:2:branches: cooldown branches need schedule wsd (the run's schedule is cosine)");
  EXPECT_EQ(errors_of(head + "softmax,163840,2048,128,8,wsd,0.5|half\n"),
            "b.csv:2:branches: branch budget 'half' is neither a fraction in (0, 1] of the run's "
            "tokens nor a token count");
  EXPECT_EQ(errors_of(head + "softmax,163840,2048,128,8,wsd,0.5|1.5\n"),
            "b.csv:2:branches: branch budget '1.5' above 1 is a token count and must be a whole "
            "number");
  EXPECT_EQ(errors_of(head + "softmax,163840,2048,128,8,wsd,0.5|1M\n"),
            "b.csv:2:branches: branch budget 1000000 tokens is above the run's 163840");
  EXPECT_EQ(errors_of(head + "softmax,163840,2048,128,30,wsd,0.125|1\n"),
            "b.csv:2:branches: warmup (30 steps) does not end by the first branch point (step 8)");
  EXPECT_EQ(errors_of("arch,tokens,schedule,decay_shape\nsoftmax,1M,wsd,sqrt\n"),
            "b.csv:2:decay_shape: unknown decay_shape 'sqrt' (linear, cosine, 1-sqrt)");
}
