// Host/device contract of the gated delta rule's CUDA kernels (Gated
// DeltaNet). The shared linear-attention params (kernels/common/la_params.cuh)
// carry q, k, v, the chunk-local gate cumsum, states, sequences and the
// outputs; this adds beta and the WY-representation workspace.
//
// Per chunk of C = 64 rows (b = chunk-local cumsum of g, L = last valid row):
//   T  = (I + tril_{-1}(beta_t e^{b_t - b_j} k_t.k_j))^{-1}     (tinv)
//   W  = T diag(beta) (K ⊙ e^b),  U = T diag(beta) V            (w, uu)
//   u  = U - W S                                                (vnew)
//   o  = scale (Q ⊙ e^b) S + (scale Q K^T ⊙ Gamma, j <= t) u    (scalar output kernel, v = u)
//   S' = e^{b_L} S + (K ⊙ e^{b_L - b})^T u
// Layouts as in la_params.cuh: token tensors are [Ttot, H, D], per-chunk
// tensors [NC, H, ...].
#pragma once

#include "kernels/common/la_params.cuh"

namespace scalelab::kernels::cuda {

struct GdnParams {
  LinearAttnParams la;
  const float* beta = nullptr;  // [Ttot, H] fp32
  void* w = nullptr;            // [Ttot, H, K] bf16
  void* uu = nullptr;           // [Ttot, H, V] bf16 (forward only)
  void* vnew = nullptr;         // [Ttot, H, V] bf16 u = U - W S
  void* tinv = nullptr;         // [NC, H, C, C] bf16 T (rows past the chunk's end: identity)
  // Backward workspace and outputs.
  void* du_local = nullptr;     // [Ttot, H, V] bf16 (scale Q K^T ⊙ Gamma)^T dO
  void* du = nullptr;           // [Ttot, H, V] bf16 total gradient of u
  float* dk_wy = nullptr;       // [Ttot, H, K] gradient of k through T, W, U
  float* db_wy = nullptr;       // [Ttot, H] gradient of the cumulative gate b through T, W
  float* dbeta = nullptr;       // [Ttot, H]
};

// One set per K (64 or 128); V a multiple of 64, at most 256.
template <int DK>
void launch_gdn_forward(const GdnParams& p, void* stream);
template <int DK>
void launch_gdn_backward(const GdnParams& p, void* stream);

}  // namespace scalelab::kernels::cuda
