// Depthwise causal 1-D convolution over time with an optional SiLU, in the
// [B, T, C] layout the projections produce (Mamba2's and Gated DeltaNet's
// short convolution; mamba's causal_conv1d):
//
//   y[b, t, c] = act(bias[c] + sum_{k<W} w[c, k] x[b, t - W + 1 + k, c])   (x = 0 before t = 0)
//
// x [B, T, C] (strided over B and T, contiguous over C); weight [C, W] (a
// Conv1d's [C, 1, W] squeezed); bias [C] or undefined. Returns y [B, T, C]
// contiguous in x's dtype. Differentiable in x, weight and bias.
// Dispatch: CUDA kernels for bf16/fp32 CUDA tensors with C % 8 == 0 and
// W <= 8 (no transposes, no padded copy); the LibTorch reference otherwise.
#pragma once

#include <torch/torch.h>

namespace scalelab::kernels {

torch::Tensor causal_conv1d(const torch::Tensor& x, const torch::Tensor& weight,
                            const torch::Tensor& bias, bool silu);

// Ground truth: left zero padding and at::conv1d on [B, C, T], in x's dtype.
torch::Tensor causal_conv1d_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                      const torch::Tensor& bias, bool silu);

}  // namespace scalelab::kernels
