// CUDA entry point for the gated delta rule (Hopper, bf16 q, k, v, fp32 gates,
// beta, accumulation and states). op.cpp calls it when q.is_cuda() and the
// library was built with SCALELAB_CUDA_KERNELS.
//
// Same contract as delta_rule_chunked in op.h: q, k [B,T,H,K] (L2-normalised
// by the caller, as the mixer does: the chunk's (I + A)^{-1} is then well
// conditioned for bf16, as in fla);
// v [B,T,H,V]; g, beta [B,T,H]; initial_state [B,H,K,V] (or [N,H,K,V] with
// cu_seqlens) or undefined; result o [B,T,H,V] in q's dtype and final_state
// [B,H,K,V] fp32. Differentiable in q, k, v, g, beta and initial_state (a
// torch::autograd::Function wraps the kernels of gdn_kernels.cuh). The
// kernels use 64-row chunks whatever opt.chunk_size says. fp64 and head dims
// outside K in {64, 128}, V % 64 == 0, V <= 256 run the LibTorch chunked form
// on the GPU. Throws c10::Error naming the argument for bad shapes, non-CUDA
// tensors or mismatched devices.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult cuda_delta_rule_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, const torch::Tensor& g,
                                         const torch::Tensor& beta,
                                         const torch::Tensor& initial_state,
                                         const LinearAttnOptions& opt);

// True when the CUDA kernels handle these head dims (K, V).
bool cuda_delta_rule_supported(int64_t head_k, int64_t head_v);

}  // namespace scalelab::kernels
