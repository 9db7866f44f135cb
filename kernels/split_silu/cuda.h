// CUDA launchers of split_silu (split_silu.cu); op.cpp is the only caller.
// h and dh are row-major [rows, n]; part i is [rows, n_i], contiguous; every
// n_i % 8 == 0; one dtype throughout (bf16 or fp32).
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

inline constexpr int kSplitSiluMaxParts = 4;

struct SplitSiluArgs {
  int64_t rows;
  int n;                                // columns of h
  int parts;
  int size[kSplitSiluMaxParts];         // n_i
  void* part[kSplitSiluMaxParts];       // forward: outputs; backward: dy_i or null (zeros)
  bool bf16;
};
void split_silu_forward(const SplitSiluArgs& a, const void* h, void* stream);
void split_silu_backward(const SplitSiluArgs& a, const void* h, void* dh, void* stream);

}  // namespace scalelab::kernels::cuda
