// Machine-readable forms of a plan: the expanded sheet (CSV/TSV) and JSON.
#include <fmt/format.h>

#include "sweep/columns.h"
#include "sweep/output.h"
#include "sweep/sheet.h"

namespace scalelab::sweep {
namespace {

// Shortest text that reads back as the same double, so re-planning the
// expanded sheet rebuilds identical RunSpecs.
std::string num(double v) { return fmt::format("{}", v); }

std::string cell(const PlannedRun& r, Col c) {
  const spec::RunSpec& s = r.spec;
  const spec::ModelSpec& m = s.model;
  // A mixer field reads back as its default where the arch does not use it.
  if (const int f = mixer_field_of(c); f >= 0) return std::to_string(m.field(f));
  switch (c) {
    case Col::Name: return r.row.name;
    case Col::Stage: return r.row.stage;
    case Col::Priority: return std::to_string(r.row.priority);
    case Col::Gate: return r.gate;
    case Col::Arch: return m.arch;
    case Col::Layers: return std::to_string(m.n_layers);
    case Col::DModel: return std::to_string(m.d_model);
    case Col::Heads: return std::to_string(m.n_heads);
    case Col::KvHeads: return std::to_string(m.kv_heads());
    case Col::Ffn: return std::to_string(m.ffn());
    case Col::Vocab: return std::to_string(m.vocab);
    case Col::SeqLen: return std::to_string(m.seq_len);
    case Col::TieEmbeddings: return m.tie_embeddings ? "true" : "false";
    case Col::Tokens: return std::to_string(s.tokens);
    case Col::BatchTokens: return std::to_string(s.batch_tokens);
    case Col::Lr: return num(s.lr);
    case Col::MinLrRatio: return num(s.min_lr_ratio);
    case Col::Warmup: return num(s.warmup);
    case Col::Schedule: return s.schedule;
    case Col::DecayFraction: return num(s.decay_fraction);
    case Col::DecayShape: return s.decay_shape;
    case Col::Branches: {
      std::string out;
      for (int64_t t : s.branches) out += (out.empty() ? "" : "|") + std::to_string(t);
      return out;
    }
    case Col::WeightDecay: return num(s.weight_decay);
    case Col::Beta1: return num(s.beta1);
    case Col::Beta2: return num(s.beta2);
    case Col::GradClip: return num(s.grad_clip);
    case Col::Seed: return std::to_string(s.seed);
    case Col::Data: return s.data;
    case Col::EvalEvery: return std::to_string(s.eval_every);
    case Col::EvalTokens: return std::to_string(s.eval_tokens);
    case Col::Task: return s.task;
    case Col::MqarPairs: return std::to_string(s.mqar_pairs);
    case Col::RunId: return r.row.id;
    case Col::Params: return std::to_string(r.row.params);
    case Col::NonEmbeddingParams: return std::to_string(r.row.nonembedding_params);
    case Col::TrainFlops: return fmt::format("{:.6e}", r.row.flops);
    case Col::TokPerParam:
      return fmt::format("{:.4g}", static_cast<double>(s.tokens) / static_cast<double>(r.row.params));
    case Col::MemoryGb: return fmt::format("{:.3f}", r.cost.memory.total() / 1e9);
    case Col::GpuHours: return fmt::format("{:.4g}", r.cost.gpu_hours);
    case Col::Cost: return fmt::format("{:.2f}", r.cost.cost);
    default: return "";
  }
}

// The budget is written as `tokens`; the other two budget columns would conflict.
bool written(const ColumnDef& d) { return d.role != ColRole::Budget || d.col == Col::Tokens; }

nlohmann::json budget_row_json(const BudgetRow& r) {
  return {{"stage", r.stage},       {"arch", r.arch},           {"runs", r.runs},
          {"min_params", r.min_params}, {"max_params", r.max_params}, {"tokens", r.tokens},
          {"flops", r.flops},       {"gpu_hours", r.gpu_hours}, {"cost", r.cost},
          {"max_memory_bytes", r.max_memory}, {"runs_not_fitting", r.over_memory},
          {"wsd", {{"parents", r.parents}, {"branches", r.branches}, {"flops", r.wsd_flops},
                   {"gpu_hours", r.wsd_gpu_hours}, {"from_scratch_flops", r.scratch_flops},
                   {"from_scratch_gpu_hours", r.scratch_gpu_hours}}}};
}

}  // namespace

void write_expanded(std::ostream& os, const Plan& plan, char delimiter) {
  std::string line;
  for (const ColumnDef& d : columns())
    if (written(d)) line += (line.empty() ? "" : std::string(1, delimiter)) + std::string(d.name);
  os << line << "\n";
  for (const PlannedRun& r : plan.runs) {
    if (!r.spec.branch_of.empty()) continue;  // its parent's `branches` cell plans it again
    line.clear();
    bool first = true;
    for (const ColumnDef& d : columns()) {
      if (!written(d)) continue;
      if (!first) line += delimiter;
      first = false;
      line += csv_cell(cell(r, d.col), delimiter);
    }
    os << line << "\n";
  }
}

nlohmann::json plan_json(const Plan& plan, const Budget& b) {
  nlohmann::json runs = nlohmann::json::array();
  for (const PlannedRun& r : plan.runs) {
    const MemoryEstimate& m = r.cost.memory;
    runs.push_back({{"run_id", r.row.id},
                    {"row", r.line},
                    {"name", r.row.name},
                    {"stage", r.row.stage},
                    {"priority", r.row.priority},
                    {"arch", r.row.arch},
                    {"params", r.row.params},
                    {"nonembedding_params", r.row.nonembedding_params},
                    {"tokens", r.row.tokens},
                    {"flops", r.row.flops},
                    {"flops_per_token", r.flops_per_token},
                    {"trained_tokens", r.trained_tokens},
                    {"trained_flops", r.trained_flops},
                    {"memory_bytes", {{"weights", m.weights}, {"grads", m.grads},
                                      {"optimizer", m.optimizer}, {"activations", m.activations},
                                      {"workspace", m.workspace},
                                      {"total", m.total()}}},
                    {"micro_batch", r.cost.micro_batch},
                    {"accumulation", r.cost.accumulation},
                    {"gpu_hours", r.cost.gpu_hours},
                    {"cost", r.cost.cost},
                    {"spec", spec::to_json(r.spec)}});
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const BudgetRow& r : b.rows) rows.push_back(budget_row_json(r));
  const Hardware& hw = plan.hw;
  return {{"sheet", plan.sheet},
          {"sweep", plan.sweep},
          {"assumptions", {{"peak_flops", hw.peak_flops}, {"mfu", hw.mfu},
                           {"gpu_hour_price", hw.gpu_hour_price}, {"gpu_memory", hw.gpu_memory},
                           {"micro_batch_tokens", hw.micro_batch_tokens}}},
          {"runs", runs},
          {"budget", rows},
          {"total", budget_row_json(b.total)},
          {"duplicates", plan.duplicates.size()}};
}

}  // namespace scalelab::sweep
