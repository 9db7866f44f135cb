// The trainer's side of WSD cooldown branches (models/spec/wsd.h, db/lineage.h):
//   a parent saves a checkpoint at each of its branch points (branch-<step>.pt
//   in its run folder, kept after the parent finishes) and records it in the
//   database, which makes the branches that start there claimable;
//   a branch with no checkpoint of its own starts from its parent's checkpoint
//   at its branch point (step, tokens, model and optimiser state), then trains
//   and checkpoints as any run: interrupted, it resumes from its own.
// trainer.cpp calls these hooks and nothing else of branches: load_start,
// last_step (where to stop), is_point / save_point (after each step).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "db/db.h"
#include "models/spec/run_spec.h"
#include "train/checkpoint.h"

namespace scalelab::train {

class BranchHooks {
 public:
  // DB is where the lineage lives; nullptr (a job writing a journal on another
  // node) is refused for a parent or a branch with a clear error.
  BranchHooks(db::Database* db, const db::Run& run, const spec::RunSpec& s, std::string run_dir);

  // Steps to train to: a parent stops at its last branch point.
  int64_t last_step() const { return last_step_; }

  // The state to start from: the run's own checkpoint at OWN_CKPT, else (a
  // branch) its parent's branch-point checkpoint, else nullopt (from scratch).
  // Throws std::runtime_error when a branch's parent has not recorded the
  // point, or the checkpoint there is missing, unusable or at another step.
  std::optional<CheckpointInfo> load_start(const std::string& own_ckpt, torch::nn::Module& model,
                                           AdamW& opt);

  // Whether a parent has a branch point after STEP optimiser steps.
  bool is_point(int64_t step) const { return points_.count(step) > 0; }
  // Saves and records the branch point AT (its step: is_point() must hold).
  void save_point(const CheckpointInfo& at, torch::nn::Module& model, const AdamW& opt);

  // The checkpoint load_start() started from ("" when from scratch).
  const std::string& started_from() const { return started_from_; }

  // Where a parent keeps the checkpoint of branch point STEP.
  static std::string point_path(const std::string& run_dir, int64_t step);

 private:
  db::Database* db_;
  const db::Run& run_;
  const spec::RunSpec& spec_;
  std::string run_dir_;
  std::set<int64_t> points_;  // branch steps of a parent
  std::string started_from_;
  int64_t last_step_ = 0;
};

}  // namespace scalelab::train
