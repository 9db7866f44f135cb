// CUDA launchers of the causal depthwise conv (causal_conv1d.cu); op.cpp is
// the only caller. Strides are in elements; channels are contiguous and 8 of
// them are read with one 16-byte access (C % 8 == 0, aligned rows).
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

struct ConvArgs {
  int batch, t, c, width;
  int64_t x_sb, x_st;  // x strides over B and T (y, dy, dx are contiguous)
  const float* w;      // [C, W] fp32
  const float* bias;   // [C] fp32 or null
  bool silu, bf16;
};
void causal_conv1d_forward(const ConvArgs& a, const void* x, void* y, void* stream);
// Partials of dweight|dbias: [causal_conv1d_partials(a), C, W + 1] fp32.
int causal_conv1d_partials(const ConvArgs& a);
void causal_conv1d_backward(const ConvArgs& a, const void* x, const void* dy, void* dx,
                            float* dwb_partial, void* stream);

}  // namespace scalelab::kernels::cuda
