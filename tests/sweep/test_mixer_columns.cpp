// The mixers' own sheet columns (from the registry): gdn, swa and their
// hybrids plan with exact counts, bad field cells point at their column, and
// the expanded sheet round-trips.
#include <gtest/gtest.h>

#include <sstream>

#include "models/spec/spec.h"
#include "sweep/output.h"
#include "sweep/planner.h"

namespace sw = scalelab::sweep;
namespace spec = scalelab::spec;

namespace {

sw::Plan plan(const std::string& text) {
  return sw::plan_sheet(sw::parse_sheet(text, "m.csv", ','));
}

std::string errors_of(const std::string& text) {
  try {
    plan(text);
  } catch (const sw::SheetErrors& e) {
    return e.what();
  }
  return "no error";
}

TEST(MixerColumns, GdnSwaAndHybridsPlanWithExactCounts) {
  const sw::Plan p = plan(
      "arch,layers,d_model,heads,swa_window,gdn_head_dim,seq_len,tokens\n"
      "\"gdn|hybrid(gdn,softmax@3:1)\",8,64,4,,8,128,1M\n"
      "\"swa|hybrid(lightning,swa@7:1)\",8,64,4,32,,128,1M\n");
  ASSERT_EQ(p.runs.size(), 4u);
  const char* want[] = {"gdn:L8:d64:h4:gk8:T128", "hybrid(gdn,softmax@3:1):L8:d64:h4:gk8:T128",
                        "swa:L8:d64:h4:w32:T128", "hybrid(lightning,swa@7:1):L8:d64:h4:w32:T128"};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(want[i]);
    const spec::ModelSpec m = spec::parse_descriptor(want[i]);
    EXPECT_EQ(p.runs[i].spec.model, m);
    EXPECT_EQ(p.runs[i].row.params, spec::count_params(m).total);
    EXPECT_DOUBLE_EQ(p.runs[i].flops_per_token, spec::train_flops_per_token(m));
    EXPECT_GT(p.runs[i].cost.memory.activations, 0);
  }
  // gdn_head_dim 0 is d_model / heads, the same run as 16 or no column.
  const std::string gdn = "arch,d_model,heads,tokens\ngdn,64,4,1M\n";
  const sw::Plan same = plan("arch,d_model,heads,gdn_head_dim,tokens\ngdn,64,4,0|16,1M\n");
  ASSERT_EQ(same.runs.size(), 1u);
  EXPECT_EQ(same.duplicates.size(), 1u);
  EXPECT_EQ(same.runs[0].row.id, plan(gdn).runs[0].row.id);
  std::ostringstream out;
  sw::write_expanded(out, p, ',');
  const std::string header = out.str().substr(0, out.str().find('\n'));
  EXPECT_NE(header.find("tie_embeddings,mamba_d_state,mamba_expand,mamba_head_dim,mamba_conv,"
                        "swa_window,gdn_head_dim,gdn_expand_v,gdn_conv,tokens"),
            std::string::npos)
      << header;
  const sw::Plan again = plan(out.str());
  ASSERT_EQ(again.runs.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(again.runs[i].row.id, p.runs[i].row.id);
}

TEST(MixerColumns, BadFieldCellsNameTheirColumn) {
  EXPECT_EQ(errors_of("arch,swa_window,tokens\nswa,0,1M\n"),
            "m.csv:2:swa_window: swa_window must be >= 1, got 0");
  EXPECT_EQ(errors_of("arch,swa_window,tokens\nsoftmax,64,1M\n"),
            "m.csv:2:swa_window: swa_window (64) applies to swa layers only; softmax has none");
  EXPECT_EQ(errors_of("arch,swa_windw,tokens\nswa,64,1M\n"),
            "m.csv:1:swa_windw: unknown column 'swa_windw'; did you mean 'swa_window'?");
  EXPECT_EQ(errors_of("arch,d_model,heads,tokens\ngdn,64,6,1M\n"),
            "m.csv:2:heads: heads (6) must divide d_model (64) unless gdn_head_dim is given");
}

}  // namespace
