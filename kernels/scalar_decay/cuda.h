// CUDA entry point for scalar-decay linear attention (Hopper, bf16 in, fp32
// accumulation and state). op.cpp calls it when q.is_cuda() and the library
// was built with SCALELAB_CUDA_KERNELS.
//
// Same contract as scalar_decay_chunked in op.h: q, k [B,T,H,K]; v [B,T,H,V];
// g [B,T,H] log-decay; initial_state [B,H,K,V] fp32 or undefined; result o
// [B,T,H,V] in q's dtype and final_state [B,H,K,V] fp32. Differentiable in
// q, k, v, g and initial_state (a torch::autograd::Function wraps the kernels).
// The kernels use 64-row chunks whatever opt.chunk_size says (the result does
// not depend on it); q, k, v are computed in bf16 (other dtypes are cast, fp64
// and head dims outside K in {64,128}, V % 64 == 0, V <= 256 go to the
// LibTorch chunked form on the GPU). Throws c10::Error naming the argument for
// bad shapes, non-CUDA tensors or mismatched devices.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult cuda_scalar_decay_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v, const torch::Tensor& g,
                                           const torch::Tensor& initial_state,
                                           const LinearAttnOptions& opt);

// scalar_decay_chunked_silu_qkv (op.h) on the kernels with the SiLU fused
// into their loads and stores. Preconditions: the op's checks passed, h is a
// CUDA tensor and cuda_scalar_decay_supported(D, D).
LinearAttnResult cuda_scalar_decay_silu_qkv(const torch::Tensor& h, int64_t heads,
                                            const torch::Tensor& g,
                                            const torch::Tensor& initial_state,
                                            const LinearAttnOptions& opt);

// True when the CUDA kernels handle these head dims (K, V); op.cpp may use it
// to fall back to the reference instead of throwing.
bool cuda_scalar_decay_supported(int64_t head_k, int64_t head_v);

}  // namespace scalelab::kernels
