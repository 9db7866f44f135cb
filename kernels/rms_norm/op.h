// RMSNorm over the last dim (Zhang & Sennrich 2019), statistics in fp32:
//
//   y = x * rsqrt(mean(x^2) + eps) * weight
//
// x [..., D] (fp32, bf16 or fp64); weight [D]. The result has dtype OUT (x's
// dtype when unset): the decoder asks for bf16 under autocast, so a norm feeds
// its bf16 matmul without a separate cast pass over an fp32 copy.
// Differentiable in x and weight (dx in x's dtype, dweight in weight's).
// Dispatch: one fused CUDA kernel forward and one backward for CUDA tensors
// (fp32/bf16, D % 8 == 0, D <= 8192), the LibTorch reference otherwise.
#pragma once

#include <torch/torch.h>

#include <optional>

namespace scalelab::kernels {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                       std::optional<at::ScalarType> out = std::nullopt);

// The ground truth: plain LibTorch ops in fp32 (fp64 for fp64 x), autograd by LibTorch.
torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                 std::optional<at::ScalarType> out = std::nullopt);

}  // namespace scalelab::kernels
