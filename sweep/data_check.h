// The data a sweep's runs train on, checked when the sweep is planned.
//
// For every distinct `data` cell the planner resolves the source
// (data/source.h: builtin:kjv, text:FILE, shards:DIR, tokens:FILE) once, and
// reports at the row and column that cause it: data that is missing, truncated
// or not a shard set (data); a vocab that disagrees with the shards' manifest
// or is smaller than the largest token (vocab); a seq_len longer than a split
// holds (seq_len); fewer held-out windows than eval_tokens asks for
// (eval_tokens). A blank vocab takes the manifest's. The plan then says how
// many tokens each source holds and how many epochs its largest run repeats.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace scalelab::sweep {

struct DataUse {
  std::string source;  // the `data` cell
  std::string origin;  // the file or folder behind it
  int64_t train_tokens = 0, validation_tokens = 0;
  int64_t vocab = 0;
  bool vocab_exact = false;
  int64_t runs = 0, repeating = 0;  // runs on it; runs that see it more than once
  double max_epochs = 0;             // the largest run's epochs over its training windows
  int max_line = 0;                  // that run's sheet row
};

struct Plan;
// One line per source: tokens, epochs of the largest run.
void print_data_uses(std::ostream& os, const Plan& plan);

}  // namespace scalelab::sweep
