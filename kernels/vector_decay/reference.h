// Ground truth for vector-decay (gated) linear attention (see op.h): two
// independent, deliberately naive forms that the chunked form and the CUDA
// kernels are tested against. Plain LibTorch, written for clarity
// (as fla/ops/gla/naive.py).
//
// Shapes: q, k [B,T,H,K]; v [B,T,H,V]; g [B,T,H,K]; initial_state [B,H,K,V]
// or undefined (zeros). scale multiplies q (already resolved). Computed in
// fp64 for fp64 inputs, fp32 otherwise; o in q's dtype, the final state in
// the compute dtype. No cu_seqlens: op.cpp splits.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

// The recurrence itself, one time step after another: O(T K V).
LinearAttnResult vector_decay_reference_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v, const torch::Tensor& g,
                                                  const torch::Tensor& initial_state,
                                                  double scale);

// The same map unrolled, G = cumsum(g) over time:
//   o_t = scale * [sum_{s<=t} (sum_k q_tk k_sk exp(G_tk - G_sk)) v_s + (q_t . exp(G_t))^T S_0]
// Builds a [T,T,K] decay tensor: O(T^2 K), for tests only.
LinearAttnResult vector_decay_reference_quadratic(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v, const torch::Tensor& g,
                                                  const torch::Tensor& initial_state,
                                                  double scale);

}  // namespace scalelab::kernels
