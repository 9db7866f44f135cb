// Scalar-decay linear attention: Lightning attention (fixed per-head decay) and
// Mamba2 SSD (data-dependent per-head decay) share this op.
// For generation (models/): scalar_decay_step below advances one token with
// the O(1) [B,H,K,V] state; chaining it over t equals scalar_decay_chunked.
//
//   S_t = exp(g_t) * S_{t-1} + k_t v_t^T        S: [K, V] per (batch, head)
//   o_t = scale * S_t^T q_t
//
// Shapes: q, k [B,T,H,K]; v [B,T,H,V]; g [B,T,H] log-decay (<= 0);
// initial_state [B,H,K,V] or undefined (zeros).
// Dispatch: CUDA kernels when the tensors are on a GPU (and built), the
// chunked LibTorch reference otherwise. Differentiable in q, k, v, g and
// initial_state.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult scalar_decay_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& g,
                                      const torch::Tensor& initial_state,
                                      const LinearAttnOptions& opt = {});

// Lightning's form: q | k | v = silu(h) of one packed projection
// h [B,T,3HD] (q at columns [0, HD), k at [HD, 2HD), v at [2HD, 3HD), head
// width D = K = V), then scalar_decay_chunked. Equals split_silu followed by
// scalar_decay_chunked; on the GPU the kernels apply the SiLU as they load
// and fold its derivative into the gradient stores, so neither q, k, v nor
// their gradients are materialised. Differentiable in h, g, initial_state.
LinearAttnResult scalar_decay_chunked_silu_qkv(const torch::Tensor& h, int64_t heads,
                                               const torch::Tensor& g,
                                               const torch::Tensor& initial_state,
                                               const LinearAttnOptions& opt = {});

// One step at a time: the O(1)-state form used for generation; same result.
LinearAttnResult scalar_decay_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& g,
                                        const torch::Tensor& initial_state,
                                        const LinearAttnOptions& opt = {});

// One token of the recurrence, for generation: q_t, k_t [B,H,K]; v_t [B,H,V];
// g_t [B,H]; state [B,H,K,V] (undefined = zeros). Returns o_t [B,H,V] in
// q_t's dtype and the new state (fp32, or fp64 for fp64 inputs). scale <= 0
// means K^-0.5, as in LinearAttnOptions. Differentiable.
LinearAttnResult scalar_decay_step(const torch::Tensor& q_t, const torch::Tensor& k_t,
                                   const torch::Tensor& v_t, const torch::Tensor& g_t,
                                   const torch::Tensor& state, double scale = -1.0);

}  // namespace scalelab::kernels
