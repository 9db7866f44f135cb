// The evals of one trained run, as rows for the database (db::EvalRow):
//
//   mqar      (mqar runs) accuracy on held-out MQAR sequences of the run's
//             own shape, every answer scored by argmax
//   sniah     (lm runs) S-NIAH recall (evals/niah.h) per variant, context
//             length and needle depth, by greedy decoding through the
//             mixers' step forms; contexts past the training length are
//             allowed and marked (detail "beyond_training")
//   position  (lm runs) held-out loss by token position (evals/position_loss.h),
//             stored as eval "position_loss"
//
// The model is the run's trained weights (RUN_DIR/model.pt, written when
// the run finished).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "db/db.h"
#include "models/spec/run_spec.h"

namespace scalelab::evals {

struct EvalOptions {
  std::vector<std::string> tasks;      // mqar | sniah | position; empty: those that fit the run
  std::vector<int64_t> contexts;       // S-NIAH prompt lengths; empty: those of T/4, T/2,
                                       // T, 2T at least twice the needle and question
  std::vector<double> depths = {0, 0.25, 0.5, 0.75, 1};
  std::vector<std::string> variants = {"passkey/repeat", "word/repeat", "passkey/text"};
  int64_t samples = 4;                 // S-NIAH prompts per (variant, context, depth)
  int64_t mqar_samples = 512;          // held-out MQAR sequences
  int64_t position_windows = 0;        // held-out windows for position loss; 0: eval_tokens / T
  int64_t batch = 16;                  // prompts or windows per forward
  std::string device = "auto";         // auto | cpu | cuda | cuda:N
  std::function<void(const std::string&)> progress;  // one line per step of work
};

// The tasks of OPT that apply to RUN (mqar to mqar runs; sniah and position
// to lm runs), in order.
std::vector<std::string> tasks_for(const spec::RunSpec& run, const EvalOptions& opt);

// Throws std::invalid_argument naming the option for values that cannot be
// evaluated on RUN: an unknown task or variant, a depth outside [0, 1], a
// context too short for a needle, samples < 1; and a run whose data has no
// tokenizer (sniah).
void check_eval_options(const spec::RunSpec& run, const EvalOptions& opt);

// Evaluates RUN (its weights in MODEL_PATH) on every task of tasks_for():
// (eval name, its rows) per task, ready for db::Database::replace_evals.
std::vector<std::pair<std::string, std::vector<db::EvalRow>>> evaluate_run(
    const db::Run& run, const std::string& model_path, const EvalOptions& opt);

}  // namespace scalelab::evals
