// Mamba2's SSD (Dao & Gu 2024) posed as scalar-decay linear attention
// (kernels/scalar_decay): from the short convolution's output and the raw dt
// projection, per head h,
//
//   dt_h = softplus(dt[h] + dt_bias[h])               (fp32)
//   q[h] = C,  k[h] = dt_h B,  v[h] = x[h],  g[h] = -exp(A_log[h]) dt_h
//
// xbc [B, T, H P + 2 N] (x | B | C, one group of B and C shared by every head);
// dt [B, T, H] (may be a strided view); dt_bias, A_log [H]. Returns q, k
// [B, T, H, N], v [B, T, H, P] in xbc's dtype and g [B, T, H] fp32, all
// contiguous. Differentiable in xbc, dt, dt_bias and A_log.
// Dispatch: one CUDA kernel each way for bf16 xbc on a GPU (P, N % 8 == 0),
// the LibTorch reference (the broadcasts written out) otherwise.
#pragma once

#include <torch/torch.h>

namespace scalelab::kernels {

struct SsdInputs {
  torch::Tensor q, k, v, g;
};

SsdInputs ssd_inputs(const torch::Tensor& xbc, const torch::Tensor& dt, const torch::Tensor& dt_bias,
                     const torch::Tensor& a_log, int64_t heads, int64_t head_dim, int64_t d_state);
SsdInputs ssd_inputs_reference(const torch::Tensor& xbc, const torch::Tensor& dt,
                               const torch::Tensor& dt_bias, const torch::Tensor& a_log,
                               int64_t heads, int64_t head_dim, int64_t d_state);

}  // namespace scalelab::kernels
