#include "sweep/columns.h"

#include <algorithm>
#include <vector>

namespace scalelab::sweep {

namespace {

std::vector<ColumnDef> all_columns() {
  using K = CellKind;
  using R = ColRole;
  std::vector<ColumnDef> defs = {
      {Col::Name, "name", K::Label, R::Label},
      {Col::Stage, "stage", K::Label, R::Label},
      {Col::Priority, "priority", K::Label, R::Label},
      {Col::Gate, "gate", K::Label, R::Label},
      {Col::Arch, "arch", K::Text, R::Identity},
      {Col::Layers, "layers", K::Int, R::Identity},
      {Col::DModel, "d_model", K::Int, R::Identity},
      {Col::Heads, "heads", K::Int, R::Identity},
      {Col::KvHeads, "kv_heads", K::Int, R::Identity},
      {Col::Ffn, "ffn", K::Int, R::Identity},
      {Col::Vocab, "vocab", K::Int, R::Identity},
      {Col::SeqLen, "seq_len", K::Int, R::Identity},
      {Col::TieEmbeddings, "tie_embeddings", K::Bool, R::Identity},
      {Col::Tokens, "tokens", K::Int, R::Budget},
      {Col::TokensPerParam, "tokens_per_param", K::Real, R::Budget},
      {Col::Flops, "flops", K::Real, R::Budget},
      {Col::BatchTokens, "batch_tokens", K::Int, R::Identity},
      {Col::Lr, "lr", K::Real, R::Identity},
      {Col::MinLrRatio, "min_lr_ratio", K::Real, R::Identity},
      {Col::Warmup, "warmup", K::Real, R::Identity},
      {Col::Schedule, "schedule", K::Text, R::Identity},
      {Col::DecayFraction, "decay_fraction", K::Real, R::Identity},
      {Col::DecayShape, "decay_shape", K::Text, R::Identity},
      // One run's list of budgets (`0.25|0.5|1`), not an axis: a Label cell.
      {Col::Branches, "branches", K::Label, R::Identity},
      {Col::WeightDecay, "weight_decay", K::Real, R::Identity},
      {Col::Beta1, "beta1", K::Real, R::Identity},
      {Col::Beta2, "beta2", K::Real, R::Identity},
      {Col::GradClip, "grad_clip", K::Real, R::Identity},
      {Col::Seed, "seed", K::Int, R::Identity},
      {Col::Data, "data", K::Text, R::Identity},
      {Col::EvalEvery, "eval_every", K::Int, R::Identity},
      {Col::EvalTokens, "eval_tokens", K::Int, R::Identity},
      {Col::Task, "task", K::Text, R::Identity},
      {Col::MqarPairs, "mqar_pairs", K::Int, R::Identity},
      {Col::RunId, "run_id", K::Label, R::Output},
      {Col::Params, "params", K::Label, R::Output},
      {Col::NonEmbeddingParams, "nonembedding_params", K::Label, R::Output},
      {Col::TrainFlops, "train_flops", K::Label, R::Output},
      {Col::TokPerParam, "tok_per_param", K::Label, R::Output},
      {Col::MemoryGb, "memory_gb", K::Label, R::Output},
      {Col::GpuHours, "gpu_hours", K::Label, R::Output},
      {Col::Cost, "cost", K::Label, R::Output},
  };
  // The mixers' fields go where their slots are: after tie_embeddings.
  auto at = defs.begin() + static_cast<std::ptrdiff_t>(idx(Col::TieEmbeddings) + 1);
  for (const spec::MixerField* f : spec::mixer_fields())
    at = defs.insert(at, {mixer_column(f->id), f->column, K::Int, R::Identity}) + 1;
  return defs;
}

}  // namespace

const std::vector<ColumnDef>& columns() {
  static const std::vector<ColumnDef> defs = all_columns();
  return defs;
}

const ColumnDef& column(Col c) {
  static const std::array<const ColumnDef*, kNumCols> by_col = [] {
    std::array<const ColumnDef*, kNumCols> a{};
    for (const ColumnDef& d : columns()) a[idx(d.col)] = &d;
    return a;
  }();
  return *by_col.at(idx(c));
}

std::optional<Col> find_column(std::string_view name) {
  for (const ColumnDef& d : columns())
    if (d.name == name) return d.col;
  return std::nullopt;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggest_column(std::string_view name) {
  std::string best;
  size_t best_d = 3;
  for (const ColumnDef& d : columns()) {
    const size_t dist = edit_distance(name, d.name);
    if (dist < best_d) {
      best_d = dist;
      best = std::string(d.name);
    }
  }
  return best;
}

}  // namespace scalelab::sweep
