// Chunked gated delta rule in LibTorch: the WY / UT-transform form of
// DeltaNet (Yang et al. 2024, arXiv:2406.06484) with Gated DeltaNet's decay.
// Within a chunk of C steps, starting from state S_n:
//   u = T V - T (K . e^b) S_n,   T = (I + A)^{-1} diag(beta)
//   A_ij = beta_i e^{b_i - b_j} k_i.k_j for j < i (0 elsewhere)
//   o   = (Q . e^b) S_n + (Q K^T . Gamma) u,  Gamma_ij = e^{b_i - b_j}, j <= i
//   S_{n+1} = e^{b_C} S_n + (K . e^{b_C - b})^T u
// with b the cumulative log-decay since the chunk start; every exponent is
// <= 0. T is applied by one unit-lower-triangular solve per chunk. Only the
// [K,V] states are sequential. O(T C (K + V) + T K V). Differentiable
// through LibTorch ops; runs on any device.
//
// Shapes and dtypes as in reference.h. chunk_size >= 1; T need not be a
// multiple of it (padded steps have k = v = beta = g = 0 and change nothing).
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult delta_rule_chunk_torch(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& g,
                                        const torch::Tensor& beta,
                                        const torch::Tensor& initial_state, double scale,
                                        int64_t chunk_size);

}  // namespace scalelab::kernels
