// Ground truth for scalar-decay linear attention (see op.h for the recurrence):
// two independent, deliberately naive forms that the chunked form and the
// CUDA kernels are tested against. Plain LibTorch, written for clarity.
//
// Shapes: q, k [B,T,H,K]; v [B,T,H,V]; g [B,T,H]; initial_state [B,H,K,V] or
// undefined (zeros). scale multiplies q (already resolved, no default here).
// Computed in fp64 for fp64 inputs, fp32 otherwise; o is returned in q's
// dtype, the final state in the compute dtype. No cu_seqlens: op.cpp splits.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

// The recurrence itself, one time step after another: O(T K V).
LinearAttnResult scalar_decay_reference_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v, const torch::Tensor& g,
                                                  const torch::Tensor& initial_state,
                                                  double scale);

// The same map unrolled: o = scale * [((Q K^T) . D) V + diag(exp(G)) Q S_0],
// D[t,s] = exp(G_t - G_s) for s <= t (0 otherwise), G = cumsum(g) over time.
// O(T^2): for tests only.
LinearAttnResult scalar_decay_reference_quadratic(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v, const torch::Tensor& g,
                                                  const torch::Tensor& initial_state,
                                                  double scale);

}  // namespace scalelab::kernels
