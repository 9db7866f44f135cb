// The columns of a sweep sheet and what each one sets.
//
// Identity columns fill a spec::RunSpec (two rows with the same values are the
// same run); label columns (name, stage, priority, gate) only annotate it; output
// columns are what `plan --out` adds to the expanded sheet, and are ignored
// when such a sheet is read back, so it re-plans to the same runs. Each
// mixer field (mamba_d_state, swa_window, ...) is a column too, in the
// registry's order (models/spec/mixer.h); no column here names a mixer.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/spec/mixer.h"
#include "sweep/cell.h"

namespace scalelab::sweep {

enum class Col {
  // labels
  Name, Stage, Priority, Gate,
  // model (spec::ModelSpec)
  Arch, Layers, DModel, Heads, KvHeads, Ffn, Vocab, SeqLen, TieEmbeddings,
  // the mixers' fields: slot i is spec::mixer_fields()[i] (unused slots are
  // no column)
  MixerFields,
  // token budget: exactly one per run
  Tokens = MixerFields + spec::kMaxMixerFields, TokensPerParam, Flops,
  // optimisation and data (spec::RunSpec)
  BatchTokens, Lr, MinLrRatio, Warmup, Schedule, DecayFraction, DecayShape, Branches, WeightDecay,
  Beta1, Beta2,
  GradClip, Seed, Data, EvalEvery, EvalTokens,
  // the task (spec::RunSpec::task): lm, or mqar with its pairs
  Task, MqarPairs,
  // output only
  RunId, Params, NonEmbeddingParams, TrainFlops, TokPerParam, MemoryGb, GpuHours, Cost,
  kCount
};
inline constexpr size_t kNumCols = static_cast<size_t>(Col::kCount);
inline size_t idx(Col c) { return static_cast<size_t>(c); }

enum class ColRole { Label, Identity, Budget, Output };

struct ColumnDef {
  Col col;
  std::string_view name;
  CellKind kind;
  ColRole role;
};

// The column of mixer field ID, and the mixer field of column C (or -1).
inline Col mixer_column(int field_id) { return static_cast<Col>(idx(Col::MixerFields) + field_id); }
inline int mixer_field_of(Col c) {
  const size_t i = idx(c) - idx(Col::MixerFields);
  return idx(c) >= idx(Col::MixerFields) && i < spec::mixer_fields().size() ? static_cast<int>(i)
                                                                            : -1;
}

// Every column, in the order the expanded sheet writes them (built on first
// use: register extra mixers before).
const std::vector<ColumnDef>& columns();
const ColumnDef& column(Col c);  // c must be a column (not an unused mixer slot)
std::optional<Col> find_column(std::string_view name);
// Levenshtein distance (insertions, deletions, substitutions), for suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The known column closest to NAME (edit distance <= 2), or "".
std::string suggest_column(std::string_view name);

}  // namespace scalelab::sweep
