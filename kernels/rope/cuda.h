// CUDA launchers of the fused RoPE (rope.cu); op.cpp is the only caller.
// qkv / dqkv [rows = B*T, H + 2 KV, hd] bf16; q, k, v and their gradients
// [rows, heads, hd] bf16; cos, sin [>= pos0 + T, hd/2] fp32; hd % 8 == 0.
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

struct RopeArgs {
  int64_t rows;   // B * T
  int t;          // sequence length (position of row r is pos0 + r % t)
  int heads, kv_heads, hd;
  int64_t pos0;
  const float* cos;
  const float* sin;
};
void rope_qkv_forward(const RopeArgs& a, const void* qkv, void* q, void* k, void* v, void* stream);
void rope_qkv_backward(const RopeArgs& a, const void* dq, const void* dk, const void* dv,
                       void* dqkv, void* stream);

}  // namespace scalelab::kernels::cuda
