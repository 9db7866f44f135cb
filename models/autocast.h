// bf16 autocast on CUDA as a scope, shared by the trainer, the evals and the
// tests that run models on a GPU.
#pragma once

#include <c10/core/ScalarType.h>

namespace scalelab::models {

// Turns on bf16 autocast for CUDA for its lifetime and restores the previous
// state on exit, exceptions included (the weight-cast cache is cleared too).
// AutocastGuard(false) does nothing: callers pass "is the model on a GPU".
class AutocastGuard {
 public:
  explicit AutocastGuard(bool enable);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enable_, prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

}  // namespace scalelab::models
