// RunSpec: everything that defines one training run, and its identity.
//
// The planner builds it from a sheet row, stores canonical_json() in runs.spec
// and run_id() as runs.id; the trainer reads it back with from_json(). Two runs
// with the same RunSpec are the same run, whatever sheet or stage named them,
// so re-planning a sheet is a no-op.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/spec/spec.h"

namespace scalelab::spec {

struct RunSpec {
  ModelSpec model;
  int64_t tokens = 0;           // training tokens
  int64_t batch_tokens = 8192;  // tokens per optimiser step (batch = batch_tokens / seq_len)
  double lr = 3e-3;             // peak learning rate
  double min_lr_ratio = 0.1;    // final lr = min_lr_ratio * lr
  double warmup = 0.05;         // < 1: fraction of the run's steps; >= 1: optimiser steps
  std::string schedule = "cosine";  // cosine | wsd | constant
  double decay_fraction = 0.2;  // wsd: the final fraction of the run's steps that decays
  std::string decay_shape = "linear";  // wsd: linear | cosine | 1-sqrt (train/schedule.h)
  // WSD cooldown branches (models/spec/wsd.h). A parent lists the token
  // budgets of its branches and trains only the stable phase; a branch names
  // its parent and the step whose checkpoint it starts from.
  std::vector<int64_t> branches;
  std::string branch_of;
  int64_t branch_step = 0;
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double grad_clip = 1.0;
  uint64_t seed = 0;
  std::string data = "builtin:kjv";  // "builtin:kjv" or a text file path
  int64_t eval_every = 0;       // steps between held-out evaluations; 0: ~20 per run
  int64_t eval_tokens = 65536;  // held-out tokens per evaluation
  // What the run learns: "lm" (next-token prediction on `data`), or "mqar"
  // (multi-query associative recall, evals/mqar.h: synthetic key-value
  // sequences of mqar_pairs pairs in seq_len tokens over the model's vocab,
  // scored on the answers only; `data` is then "mqar"). Written to the
  // canonical JSON only for a task other than lm, so lm run ids do not move.
  std::string task = "lm";
  int64_t mqar_pairs = 0;

  int64_t batch_size() const { return batch_tokens / model.seq_len; }
  int64_t steps() const;         // ceil(tokens / (batch_size * seq_len))
  int64_t warmup_steps() const;
  int64_t eval_interval() const;
  bool is_mqar() const { return task == "mqar"; }
};

// Throws SpecError (field mqar_pairs or vocab) when an mqar run's pairs do
// not fit its seq_len or vocab.
void check_mqar(const RunSpec& r);

// Canonical form: keys sorted, the model as its canonical descriptor. Fields
// added after the first release (decay_shape, branches, branch_of,
// branch_step) are written only when they differ from their defaults, so the
// ids of existing runs do not move.
nlohmann::json to_json(const RunSpec& r);
// Throws SpecError naming the field for a missing or bad one.
RunSpec run_spec_from_json(const nlohmann::json& j);
std::string canonical_json(const RunSpec& r);
// Appends canonical_json(r) to out, given to_descriptor(r.model): a planner
// caches the descriptor per model and reuses one buffer.
void append_canonical_json(const RunSpec& r, std::string_view model_descriptor, std::string& out);
// 16 hex digits of XXH3-64 over canonical_json(r).
std::string run_id(const RunSpec& r);
// The same id from an already computed canonical_json(r), so a planner that
// stores the JSON does not build it twice.
std::string run_id_of_canonical(std::string_view canonical);
// The 64-bit hash a run id spells (for hashing and ordering ids cheaply).
uint64_t run_id_key(std::string_view id);

}  // namespace scalelab::spec
