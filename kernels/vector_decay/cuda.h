// CUDA entry point for vector-decay (gated) linear attention (Hopper, bf16 in,
// fp32 accumulation and state). op.cpp calls it when q.is_cuda() and the
// library was built with SCALELAB_CUDA_KERNELS.
//
// Same contract as vector_decay_chunked in op.h: q, k [B,T,H,K]; v [B,T,H,V];
// g [B,T,H,K] log forget gate; initial_state [B,H,K,V] fp32 or undefined;
// result o [B,T,H,V] in q's dtype and final_state [B,H,K,V] fp32.
// Differentiable in q, k, v, g and initial_state. Same coverage and fallback
// as scalar_decay/cuda.h (64-row chunks with 16-row sub-chunks inside).
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult cuda_vector_decay_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v, const torch::Tensor& g,
                                           const torch::Tensor& initial_state,
                                           const LinearAttnOptions& opt);

// True when the CUDA kernels handle these head dims (K, V).
bool cuda_vector_decay_supported(int64_t head_k, int64_t head_v);

}  // namespace scalelab::kernels
