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

// The residual add fused in: h = x + a (in x's dtype, the residual stream),
// y = rms_norm(h, weight). Returns {h, y}. One pass forward instead of an add
// and a norm, and in the backward the residual's own gradient is added and
// the result written for both x and a (a's dtype) in the norm's pass, instead
// of an add and a cast. The decoder threads every block through it.
std::pair<torch::Tensor, torch::Tensor> add_rms_norm(const torch::Tensor& x, const torch::Tensor& a,
                                                     const torch::Tensor& weight, double eps,
                                                     std::optional<at::ScalarType> out = std::nullopt);

// RMSNorm with a gate, as the linear mixers' output norms use it:
//   SigmoidAfter  y = rms_norm(u) * sigmoid(g)     (Lightning's output gate)
//   SiluAfter     y = rms_norm(u) * silu(g)        (fla's FusedRMSNormGated)
//   SiluBefore    y = rms_norm(u * silu(g))        (Mamba2's RMSNormGated)
// with u = x, or u = x + v * D[head] when V and D are given (Mamba2's skip:
// D [heads] per head of d / heads columns). x, v [..., d]; g [..., d] (may be
// a strided view). Differentiable in x, g, weight, v and D. Dispatch: one
// CUDA kernel each way for bf16 x, g, v on a GPU (d % 8 == 0, d <= 4096), the
// reference otherwise.
enum class Gate { SigmoidAfter, SiluAfter, SiluBefore };
torch::Tensor gated_rms_norm(const torch::Tensor& x, const torch::Tensor& g,
                             const torch::Tensor& weight, double eps, Gate gate,
                             const torch::Tensor& v = {}, const torch::Tensor& D = {},
                             std::optional<at::ScalarType> out = std::nullopt);
torch::Tensor gated_rms_norm_reference(const torch::Tensor& x, const torch::Tensor& g,
                                       const torch::Tensor& weight, double eps, Gate gate,
                                       const torch::Tensor& v = {}, const torch::Tensor& D = {},
                                       std::optional<at::ScalarType> out = std::nullopt);

// The ground truth: plain LibTorch ops in fp32 (fp64 for fp64 x), autograd by LibTorch.
torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                 std::optional<at::ScalarType> out = std::nullopt);

}  // namespace scalelab::kernels
