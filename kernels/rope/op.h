// Rotary position embedding (Su et al. 2021) in the rotate-halves layout of
// Llama / GPT-NeoX: for head dim hd and i < hd/2, position p rotates the pair
// (x_i, x_{i+hd/2}) by the angle p * theta^(-2i/hd):
//
//   y_i = x_i cos - x_{i+hd/2} sin,    y_{i+hd/2} = x_{i+hd/2} cos + x_i sin
//
// rope_qkv splits the packed output of one fused q|k|v projection and rotates
// q and k in the same pass: qkv [B, T, H + 2 KV, hd] -> q [B, T, H, hd],
// k [B, T, KV, hd] (rotated at positions pos0 .. pos0 + T - 1) and v
// [B, T, KV, hd], each contiguous. Differentiable in qkv (the backward rotates
// by -angle). Dispatch: one CUDA kernel each way for bf16 CUDA tensors with
// hd % 8 == 0 (angles from a cached fp32 table), the reference otherwise.
#pragma once

#include <torch/torch.h>

namespace scalelab::kernels {

struct Qkv {
  torch::Tensor q, k, v;
};

Qkv rope_qkv(const torch::Tensor& qkv, int64_t heads, int64_t kv_heads, int64_t pos0,
             double theta = 10000.0);

// The ground truth: rotates x [B, T, H, hd] at positions pos0 .. pos0 + T - 1
// with plain LibTorch ops, angles in fp32.
torch::Tensor apply_rope(const torch::Tensor& x, int64_t pos0, double theta = 10000.0);
Qkv rope_qkv_reference(const torch::Tensor& qkv, int64_t heads, int64_t kv_heads, int64_t pos0,
                       double theta = 10000.0);

// cos and sin [positions, hd/2] (fp32, on the CPU) of the reference's angles.
std::pair<torch::Tensor, torch::Tensor> rope_tables(int64_t positions, int64_t head_dim,
                                                    double theta);

}  // namespace scalelab::kernels
