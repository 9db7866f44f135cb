// The gated delta rule: Gated DeltaNet's state update.
// For generation (models/): delta_rule_step below advances one token with
// the O(1) [B,H,K,V] state; chaining it over t equals delta_rule_chunked.
//
//   S_t = exp(g_t) (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T
//   o_t = scale * S_t^T q_t                        S: [K, V] per (batch, head)
//
// Shapes: q, k [B,T,H,K] (the mixer L2-normalises them: with |k| = 1 and
// beta in (0, 1) the update is a contraction); v [B,T,H,V]; g [B,T,H]
// log-decay (<= 0); beta [B,T,H]; initial_state [B,H,K,V] or undefined
// (zeros). Differentiable in q, k, v, g, beta and initial_state.
// Dispatch: CUDA tensors with K in {64, 128}, V % 64 == 0, V <= 256 (not
// fp64) run the kernels of delta_rule/cuda.h (bf16 operands, fp32 states);
// everything else the chunked LibTorch form, on any device.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult delta_rule_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, const torch::Tensor& g,
                                    const torch::Tensor& beta, const torch::Tensor& initial_state,
                                    const LinearAttnOptions& opt = {});

// One step at a time (the reference recurrence); same result.
LinearAttnResult delta_rule_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& g,
                                      const torch::Tensor& beta, const torch::Tensor& initial_state,
                                      const LinearAttnOptions& opt = {});

// One token of the recurrence, for generation: q_t, k_t [B,H,K]; v_t [B,H,V];
// g_t, beta_t [B,H]; state [B,H,K,V] (undefined = zeros). Returns o_t [B,H,V]
// in q_t's dtype and the new state (fp32, or fp64 for fp64 inputs). scale <= 0
// means K^-0.5, as in LinearAttnOptions. Differentiable.
LinearAttnResult delta_rule_step(const torch::Tensor& q_t, const torch::Tensor& k_t,
                                 const torch::Tensor& v_t, const torch::Tensor& g_t,
                                 const torch::Tensor& beta_t, const torch::Tensor& state,
                                 double scale = -1.0);

}  // namespace scalelab::kernels
