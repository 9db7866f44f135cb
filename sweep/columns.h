// The columns of a sweep sheet and what each one sets.
//
// Identity columns fill a spec::RunSpec (two rows with the same values are the
// same run); label columns (name, stage, priority) only annotate it; output
// columns are what `plan --out` adds to the expanded sheet, and are ignored
// when such a sheet is read back, so it re-plans to the same runs.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "sweep/cell.h"

namespace scalelab::sweep {

enum class Col {
  // labels
  Name, Stage, Priority,
  // model (spec::ModelSpec)
  Arch, Layers, DModel, Heads, KvHeads, Ffn, Vocab, SeqLen, TieEmbeddings,
  MambaDState, MambaExpand, MambaHeadDim, MambaConv,
  // token budget: exactly one per run
  Tokens, TokensPerParam, Flops,
  // optimisation and data (spec::RunSpec)
  BatchTokens, Lr, MinLrRatio, Warmup, Schedule, DecayFraction, DecayShape, Branches, WeightDecay,
  Beta1, Beta2,
  GradClip, Seed, Data, EvalEvery, EvalTokens,
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

// Every column, in the order the expanded sheet writes them.
const std::array<ColumnDef, kNumCols>& columns();
const ColumnDef& column(Col c);
std::optional<Col> find_column(std::string_view name);
// The known column closest to NAME (edit distance <= 2), or "".
std::string suggest_column(std::string_view name);

}  // namespace scalelab::sweep
