// Checkpoints of one run: model, optimiser state, step and the run's identity,
// written atomically (temp file, fsync, rename) so a killed process leaves
// either the previous checkpoint or the new one, never half of one. Each file
// carries a checksum and the previous one is kept (train/checkpoint_file.h):
// a truncated or corrupted newest checkpoint is detected and loading falls
// back to the one before, saying so.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "train/optimizer.h"

namespace scalelab::train {

struct CheckpointInfo {
  std::string run_id;
  int64_t step = 0;           // optimiser steps completed
  int64_t tokens = 0;         // tokens consumed
  double elapsed_s = 0;       // training wall time before this checkpoint
  // The metrics row being averaged when the checkpoint was taken (steps since
  // the last logged row, their summed loss and gradient norm), so a resumed
  // run logs exactly the rows an uninterrupted one would.
  int64_t window_steps = 0;
  double window_loss_sum = 0, window_grad_norm_sum = 0;
  // Set by load_checkpoint: the file read, and why the newest one was not
  // ("" when it was).
  std::string loaded_from, fallback_reason;
};

// Writes PATH (any torch module, and the trainer's AdamW state); the PATH it
// replaces becomes previous_checkpoint_path(PATH). Throws std::runtime_error
// naming the file (a full disk: nothing earlier is touched).
void save_checkpoint(const std::string& path, const CheckpointInfo& info, torch::nn::Module& model,
                     const AdamW& opt);

// Reads PATH into MODEL and OPT; when PATH is missing, truncated or corrupt,
// the previous checkpoint instead (info.fallback_reason says why). nullopt
// when neither exists. Throws std::runtime_error naming the files when no
// usable one is left, or when one belongs to another run (EXPECT_RUN_ID), so a
// resumed run never silently continues the wrong state.
std::optional<CheckpointInfo> load_checkpoint(const std::string& path,
                                              const std::string& expect_run_id,
                                              torch::nn::Module& model, AdamW& opt);

}  // namespace scalelab::train
