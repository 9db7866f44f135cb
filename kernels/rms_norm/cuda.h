// CUDA launchers of the fused RMSNorm (rms_norm.cu); op.cpp is the only caller.
// x and y are row-major [rows, d] with d % 8 == 0 and 16-byte aligned rows;
// the weight is fp32 [d]; rstd is fp32 [rows] (saved by the forward).
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

struct RmsNormFwd {
  const void* x;   // fp32 or bf16 (x_bf16)
  const float* w;
  void* y;         // fp32 or bf16 (y_bf16)
  float* rstd;
  int64_t rows;
  int d;
  float eps;
  bool x_bf16, y_bf16;
};
void rms_norm_forward(const RmsNormFwd& a, void* stream);

struct RmsNormBwd {
  const void* dy;  // y's dtype
  const void* x;   // x's dtype
  const float* w;
  const float* rstd;
  void* dx;        // x's dtype
  float* dw_partial;  // [rms_norm_backward_blocks(rows, d), d], summed by the caller
  int64_t rows;
  int d;
  bool x_bf16, y_bf16;
};
// Blocks of the backward (and rows of dw_partial): fixed for a shape and GPU,
// so the weight gradient is summed in the same order on every run.
int rms_norm_backward_blocks(int64_t rows, int d);
void rms_norm_backward(const RmsNormBwd& a, void* stream);
// Largest d the kernels take (shared memory of the backward).
inline constexpr int kRmsNormMaxDim = 8192;

}  // namespace scalelab::kernels::cuda
