// Ground truth for the gated delta rule (see op.h for the recurrence): the
// time loop, deliberately naive, that the chunked form and future CUDA
// kernels are tested against. Plain LibTorch, written for clarity.
//
// Shapes: q, k [B,T,H,K]; v [B,T,H,V]; g, beta [B,T,H]; initial_state
// [B,H,K,V] or undefined (zeros). scale multiplies q (already resolved).
// Computed in fp64 for fp64 inputs, fp32 otherwise; o is returned in q's
// dtype, the final state in the compute dtype. No cu_seqlens: op.cpp splits.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

// One time step after another: O(T K V).
LinearAttnResult delta_rule_reference_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                                const torch::Tensor& v, const torch::Tensor& g,
                                                const torch::Tensor& beta,
                                                const torch::Tensor& initial_state, double scale);

}  // namespace scalelab::kernels
