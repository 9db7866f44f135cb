// Vector-decay (gated) linear attention: HGRN2 / GLA.
// For generation (models/): vector_decay_step below advances one token with
// the O(1) [B,H,K,V] state; chaining it over t equals vector_decay_chunked.
//
//   S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T    S: [K, V] per (batch, head)
//   o_t = scale * S_t^T q_t
//
// Shapes: q, k [B,T,H,K]; v [B,T,H,V]; g [B,T,H,K] log forget gate (<= 0);
// initial_state [B,H,K,V] or undefined (zeros). HGRN2 passes k = 1 - exp(g).
// Dispatch as in scalar_decay/op.h.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult vector_decay_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& g,
                                      const torch::Tensor& initial_state,
                                      const LinearAttnOptions& opt = {});

LinearAttnResult vector_decay_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& g,
                                        const torch::Tensor& initial_state,
                                        const LinearAttnOptions& opt = {});

// One token of the recurrence, for generation: q_t, k_t, g_t [B,H,K];
// v_t [B,H,V]; state [B,H,K,V] (undefined = zeros). Returns o_t [B,H,V] in
// q_t's dtype and the new state (fp32, or fp64 for fp64 inputs). scale <= 0
// means K^-0.5, as in LinearAttnOptions. Differentiable.
LinearAttnResult vector_decay_step(const torch::Tensor& q_t, const torch::Tensor& k_t,
                                   const torch::Tensor& v_t, const torch::Tensor& g_t,
                                   const torch::Tensor& state, double scale = -1.0);

}  // namespace scalelab::kernels
