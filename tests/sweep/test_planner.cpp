// Expansion, defaults, zip groups, token budgets (iso-FLOP), identity and the
// expanded-sheet round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "models/spec/spec.h"
#include "sweep/output.h"
#include "sweep/planner.h"

namespace sw = scalelab::sweep;
namespace spec = scalelab::spec;

namespace {
sw::Plan plan(const std::string& text, const std::string& path = "s.csv") {
  return sw::plan_sheet(sw::parse_sheet(text, path, sw::sniff_delimiter(path, text)));
}
std::vector<std::string> ids(const sw::Plan& p) {
  std::vector<std::string> out;
  for (const auto& r : p.runs) out.push_back(r.row.id);
  return out;
}
const char* kHeader = "name,stage,arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens,seed\n";
}  // namespace

TEST(Planner, CartesianProductOfListsAndRanges) {
  const sw::Plan p = plan(std::string(kHeader) +
                          "grid,s1,softmax|lightning,2|4,64,4,256,64,100k,4096,0..2+1\n");
  ASSERT_EQ(p.runs.size(), 12u);  // 2 archs x 2 depths x 3 seeds
  EXPECT_EQ(p.sweep, "s");
  const std::vector<std::string> all = ids(p);
  const std::set<std::string> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), 12u);
  // The last column varies fastest: seeds, then layers, then arch.
  EXPECT_EQ(p.runs[0].spec.seed, 0u);
  EXPECT_EQ(p.runs[1].spec.seed, 1u);
  EXPECT_EQ(p.runs[3].spec.model.n_layers, 4);
  EXPECT_EQ(p.runs[6].row.arch, "lightning");
  EXPECT_EQ(p.runs[0].row.name, "grid");
  EXPECT_EQ(p.runs[0].row.stage, "s1");
  EXPECT_EQ(p.runs[0].row.tokens, 100000);
  EXPECT_EQ(p.runs[0].line, 2);
  EXPECT_EQ(p.runs[0].row.spec_json, spec::canonical_json(p.runs[0].spec));
  EXPECT_EQ(p.runs[0].row.id, spec::run_id(p.runs[0].spec));
}

TEST(Planner, ZipGroupsVaryTogether) {
  const sw::Plan p = plan(
      "arch,layers,d_model,heads,lr,tokens,seed\n"
      "softmax,zip:2|4|6,zip:64|128|192,zip:2|4|6,zip.opt:1e-3|2e-3,1M,zip.opt:0|1\n");
  ASSERT_EQ(p.runs.size(), 6u);  // 3 sizes x 2 (lr, seed) pairs
  EXPECT_EQ(p.runs[0].spec.model.n_layers, 2);
  EXPECT_EQ(p.runs[0].spec.model.d_model, 64);
  EXPECT_EQ(p.runs[5].spec.model.n_layers, 6);
  EXPECT_EQ(p.runs[5].spec.model.d_model, 192);
  EXPECT_EQ(p.runs[5].spec.model.n_heads, 6);
  EXPECT_EQ(p.runs[4].spec.lr, 1e-3);
  EXPECT_EQ(p.runs[4].spec.seed, 0u);
  EXPECT_EQ(p.runs[5].spec.lr, 2e-3);
  EXPECT_EQ(p.runs[5].spec.seed, 1u);
}

TEST(Planner, DefaultsRowsFillTheRowsBelow) {
  const sw::Plan p = plan(
      "name,arch,layers,d_model,heads,tokens,tokens_per_param,lr,seed\n"
      "defaults,lightning,2,64,4,,20,1e-3,7\n"
      "a,,,,,,,,\n"
      "b,softmax,4,,,500k,,,\n"  // own budget replaces the default's
      "defaults,,,128,,,,2e-3,\n"
      "c,,,,,,,,\n");
  ASSERT_EQ(p.runs.size(), 3u);
  const auto& a = p.runs[0];
  EXPECT_EQ(a.row.name, "a");
  EXPECT_EQ(a.row.arch, "lightning");
  EXPECT_EQ(a.spec.model.n_layers, 2);
  EXPECT_EQ(a.spec.lr, 1e-3);
  EXPECT_EQ(a.spec.seed, 7u);
  EXPECT_EQ(a.row.tokens, std::llround(20.0 * a.row.params));
  EXPECT_EQ(p.runs[1].row.arch, "softmax");
  EXPECT_EQ(p.runs[1].row.tokens, 500000);
  EXPECT_EQ(p.runs[2].spec.model.d_model, 128);  // the second defaults row
  EXPECT_EQ(p.runs[2].spec.lr, 2e-3);
  EXPECT_EQ(p.runs[2].spec.model.n_layers, 2);  // kept from the first
}

TEST(Planner, TokensPerParamCountsTotalParameters) {
  const sw::Plan p = plan("arch,layers,d_model,heads,vocab,tokens_per_param\n"
                          "softmax,2,64,4,256,10|20\n");
  ASSERT_EQ(p.runs.size(), 2u);
  const spec::ModelSpec m = spec::parse_descriptor("softmax:L2:d64:h4:v256");
  const int64_t n = spec::count_params(m).total;
  EXPECT_EQ(p.runs[0].row.params, n);
  EXPECT_EQ(p.runs[0].row.tokens, 10 * n);
  EXPECT_EQ(p.runs[1].row.tokens, 20 * n);
  EXPECT_DOUBLE_EQ(p.runs[1].row.flops, spec::train_flops_per_token(m) * 20 * n);
}

TEST(Planner, IsoFlopRowsSolveForTokens) {
  const double C = 3e15;
  const sw::Plan p = plan("arch,layers,d_model,heads,vocab,seq_len,flops\n"
                          "softmax|mamba2,zip:2|4|8,zip:64|128|256,zip:4|4|8,256,128,3e15\n");
  ASSERT_EQ(p.runs.size(), 6u);
  int64_t prev_tokens = INT64_MAX;
  for (size_t i = 0; i < 3; ++i) {
    const auto& r = p.runs[i];
    const double fpt = spec::train_flops_per_token(r.spec.model);
    EXPECT_EQ(r.row.tokens, std::llround(C / fpt));
    // The stored FLOPs are those of the rounded token count: within half a token of C.
    EXPECT_LE(std::abs(r.row.flops - C), fpt / 2);
    EXPECT_DOUBLE_EQ(r.row.flops, fpt * static_cast<double>(r.row.tokens));
    EXPECT_LT(r.row.tokens, prev_tokens);  // bigger models see fewer tokens
    prev_tokens = r.row.tokens;
  }
  // Hand check of the smallest: tokens = C / train_flops_per_token(softmax:L2:d64:h4:v256:T128).
  const spec::ModelSpec m = spec::parse_descriptor("softmax:L2:d64:h4:v256:T128");
  EXPECT_EQ(p.runs[0].row.tokens, std::llround(C / spec::train_flops_per_token(m)));
}

TEST(Planner, LabelsDoNotChangeIdentity) {
  const sw::Plan a = plan("name,stage,priority,arch,d_model,tokens\nx,s1,1,softmax,64,1M\n");
  const sw::Plan b = plan("name,stage,priority,arch,d_model,tokens\ny,s9,5,softmax,64,1M\n");
  ASSERT_EQ(a.runs.size(), 1u);
  EXPECT_EQ(a.runs[0].row.id, b.runs[0].row.id);
  EXPECT_EQ(b.runs[0].row.priority, 5);
  // A value spelled differently is the same run: 1M = 1000000 = 1e6.
  const sw::Plan c = plan("arch,d_model,tokens,lr\nsoftmax,64,1e6,0.003\n");
  EXPECT_EQ(a.runs[0].row.id, c.runs[0].row.id);
}

TEST(Planner, DuplicateRunsAreMergedAndReported) {
  const sw::Plan p = plan("name,arch,d_model,tokens\na,softmax,64,1M\nb,softmax|lightning,64,1M\n");
  ASSERT_EQ(p.runs.size(), 2u);
  ASSERT_EQ(p.duplicates.size(), 1u);
  EXPECT_EQ(p.duplicates[0].line, 3);
  EXPECT_EQ(p.duplicates[0].first_line, 2);
  EXPECT_EQ(p.runs[0].row.name, "a");
}

TEST(Planner, CsvTsvAndCrlfGiveTheSameRuns) {
  const std::string csv = "arch,layers,d_model,tokens\n\"hybrid(lightning,softmax@1:1)\",2|4,64,1M\n";
  const std::string tsv = "arch\tlayers\td_model\ttokens\nhybrid(lightning,softmax@1:1)\t2|4\t64\t1M\n";
  std::string crlf;
  for (char c : csv) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_EQ(ids(plan(csv)), ids(plan(tsv, "s.tsv")));
  EXPECT_EQ(ids(plan(csv)), ids(plan(crlf)));
  EXPECT_EQ(plan(csv).runs.size(), 2u);
}

TEST(Planner, AccountingIsFilledIn) {
  const sw::Plan p = plan("arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens\n"
                          "softmax,2,64,4,256,128,1M,4096\n");
  const auto& r = p.runs.at(0);
  EXPECT_EQ(r.cost.memory.weights, 4.0 * r.row.params);
  EXPECT_EQ(r.cost.memory.optimizer, 8.0 * r.row.params);
  EXPECT_EQ(r.cost.micro_batch, 32);  // the whole batch fits in 80 GB
  EXPECT_EQ(r.cost.accumulation, 1);
  EXPECT_DOUBLE_EQ(r.cost.gpu_hours, r.row.flops / (0.4 * 989e12) / 3600);
  EXPECT_DOUBLE_EQ(r.cost.cost, 2.0 * r.cost.gpu_hours);
}

// Data parallel over 2 GPUs: each GPU holds a whole replica (weights, grads,
// moments) and half of each batch; the GPU-hours stay, the wall time halves.
TEST(Planner, AccountingPerGpuWhenDataParallel) {
  const sw::Plan p = plan("arch,layers,d_model,heads,vocab,seq_len,tokens,batch_tokens\n"
                          "softmax,2,64,4,256,128,1M,4096\n");
  const auto& r = p.runs.at(0);
  sw::Hardware hw;
  hw.gpus_per_run = 2;
  const sw::RunCost one = sw::account(r.spec, r.row.params, r.row.flops, sw::Hardware{});
  const sw::RunCost two = sw::account(r.spec, r.row.params, r.row.flops, hw);
  EXPECT_EQ(one.gpus, 1);
  EXPECT_EQ(two.gpus, 2);
  EXPECT_EQ(two.batch_per_gpu, 16);  // 4096 tokens / 128 = 32 sequences, 16 a GPU
  EXPECT_EQ(two.micro_batch, 16);
  EXPECT_EQ(two.tokens_per_gpu, r.spec.tokens / 2);
  EXPECT_EQ(two.memory.weights, one.memory.weights);
  EXPECT_EQ(two.memory.optimizer, one.memory.optimizer);
  EXPECT_DOUBLE_EQ(two.memory.activations, one.memory.activations / 2);
  EXPECT_DOUBLE_EQ(two.gpu_hours, one.gpu_hours);
  EXPECT_DOUBLE_EQ(two.wall_hours, one.gpu_hours / 2);
  EXPECT_TRUE(two.splits);
  hw.gpus_per_run = 3;  // 32 sequences do not split over 3
  EXPECT_FALSE(sw::account(r.spec, r.row.params, r.row.flops, hw).splits);
}

TEST(Planner, ExpandedSheetReplansToTheSameRunIds) {
  const std::string sheet = std::string(SCALELAB_SOURCE_DIR) + "/configs/example_sweep.csv";
  const sw::Plan p = sw::plan_file(sheet);
  ASSERT_EQ(p.runs.size(), 90u);  // 5 archs x 6 sizes x 3 ratios
  for (char delim : {',', '\t'}) {
    std::ostringstream out;
    sw::write_expanded(out, p, delim);
    const sw::Plan back = sw::plan_sheet(sw::parse_sheet(out.str(), "expanded", delim));
    EXPECT_EQ(ids(back), ids(p));
    for (size_t i = 0; i < p.runs.size(); ++i) {
      EXPECT_EQ(back.runs[i].row.name, p.runs[i].row.name);
      EXPECT_EQ(back.runs[i].row.stage, p.runs[i].row.stage);
      EXPECT_EQ(back.runs[i].row.priority, p.runs[i].row.priority);
      EXPECT_EQ(back.runs[i].row.flops, p.runs[i].row.flops);
    }
  }
}

TEST(Planner, ExampleSweepIsStaged) {
  const sw::Plan p = sw::plan_file(std::string(SCALELAB_SOURCE_DIR) + "/configs/example_sweep.csv");
  const sw::Budget b = sw::budget(p);
  EXPECT_EQ(b.total.runs, 90);
  std::set<std::string> archs, stages;
  for (const auto& r : p.runs) {
    archs.insert(r.row.arch);
    stages.insert(r.row.stage);
  }
  EXPECT_EQ(archs, (std::set<std::string>{"softmax", "lightning", "hgrn2", "mamba2",
                                          "hybrid(lightning,softmax@7:1)"}));
  EXPECT_EQ(stages, (std::set<std::string>{"s1", "s2", "s3"}));
  double sum = 0;
  for (const auto& row : b.rows)
    if (!row.arch.empty()) sum += row.flops;
  EXPECT_DOUBLE_EQ(sum, b.total.flops);
}

TEST(Output, HumanUnits) {
  EXPECT_EQ(sw::human_count(7), "7");
  EXPECT_EQ(sw::human_count(20000), "20k");
  EXPECT_EQ(sw::human_count(125e6), "125M");
  EXPECT_EQ(sw::human_count(6738415616.0), "6.74B");
  EXPECT_EQ(sw::human_count(999.7e3), "1M");
  EXPECT_EQ(sw::human_count(3.28e15), "3.28e15");
  EXPECT_EQ(sw::human_flops(2.5e18), "2.5e18");
  EXPECT_EQ(sw::human_flops(1.234e21), "1.2e21");
  EXPECT_EQ(sw::human_bytes(12.34e9), "12.3 GB");
  EXPECT_EQ(sw::human_hours(0.123), "0.12");
  EXPECT_EQ(sw::human_hours(1516.4), "1,516");
  EXPECT_EQ(sw::human_money(3031.2), "$3,031");
  EXPECT_EQ(sw::human_money(19), "$19.00");
}

TEST(Planner, MqarRowsMakeTheirOwnDataAndRoundTrip) {
  const sw::Plan p = plan(
      "name,task,arch,layers,d_model,heads,vocab,seq_len,mqar_pairs,tokens,batch_tokens\n"
      "recall,mqar,softmax|lightning,2,64,2,129,64,8|16,1M,4096\n"
      "lm,,softmax,2,64,2,256,64,,1M,4096\n");
  ASSERT_EQ(p.runs.size(), 5u);
  EXPECT_EQ(p.runs[0].spec.task, "mqar");
  EXPECT_EQ(p.runs[0].spec.data, "mqar");
  EXPECT_EQ(p.runs[1].spec.mqar_pairs, 16);
  EXPECT_EQ(p.runs[4].spec.task, "lm");
  EXPECT_EQ(p.runs[4].row.spec_json.find("task"), std::string::npos) << "lm ids do not move";
  // No data summary line for the task's own sequences; one for the lm row.
  ASSERT_EQ(p.data.size(), 1u);
  // The expanded sheet plans the same runs again.
  std::ostringstream out;
  sw::write_expanded(out, p, ',');
  EXPECT_EQ(ids(plan(out.str())), ids(p));
}

TEST(Planner, MqarCellsAreChecked) {
  auto errors = [](const std::string& text) {
    try {
      plan(text);
    } catch (const sw::SheetErrors& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string h = "task,arch,layers,d_model,heads,vocab,seq_len,mqar_pairs,tokens,data\n";
  EXPECT_NE(errors(h + "mqar,softmax,2,64,2,129,64,17,1M,\n").find("s.csv:2:mqar_pairs: run spec: mqar_pairs 17 needs seq_len >= 4 x pairs = 68"),
            std::string::npos);
  EXPECT_NE(errors(h + "mqar,softmax,2,64,2,31,64,16,1M,\n").find("s.csv:2:vocab:"), std::string::npos);
  EXPECT_NE(errors(h + "mqar,softmax,2,64,2,129,64,8,1M,builtin:kjv\n").find("s.csv:2:data: data must be blank for task mqar"),
            std::string::npos);
  EXPECT_NE(errors(h + "recall,softmax,2,64,2,129,64,8,1M,\n").find("s.csv:2:task: task must be lm or mqar, got 'recall'"),
            std::string::npos);
  EXPECT_NE(errors(h + "lm,softmax,2,64,2,256,64,8,1M,\n").find("s.csv:2:mqar_pairs: mqar_pairs is only for task mqar"),
            std::string::npos);
}
