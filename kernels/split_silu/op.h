// SiLU of a packed projection, split into contiguous parts:
//
//   h [..., n0 + n1 + ...]  ->  silu(h[..., 0:n0]), silu(h[..., n0:n0+n1]), ...
//
// each part a contiguous [..., n_i] tensor. Lightning's q|k|v (silu, then one
// contiguous copy per part for the linear-attention kernels) took a silu pass,
// three copies, a cat and the silu backward; this is one pass each way.
// Differentiable in h; an undefined part gradient counts as zeros.
// Dispatch: one CUDA kernel each way for fp32/bf16 CUDA tensors with every
// n_i % 8 == 0 and at most 4 parts, the reference otherwise.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace scalelab::kernels {

std::vector<torch::Tensor> split_silu(const torch::Tensor& h, const std::vector<int64_t>& sizes);
// Ground truth: silu(h) split with plain LibTorch ops (views, not copies).
std::vector<torch::Tensor> split_silu_reference(const torch::Tensor& h,
                                                const std::vector<int64_t>& sizes);

}  // namespace scalelab::kernels
