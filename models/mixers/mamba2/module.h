// Mamba2 / SSD (Dao & Gu 2024, "Transformers are SSMs", arXiv:2405.21060), as
// mamba_ssm/modules/mamba2_simple.py builds it with one group:
//   [z, xBC, dt] = x W_in                 z, x [d_inner]; B, C [d_state]; dt [H]
//   [x, B, C] = SiLU(causal depthwise conv1d(xBC))   width mamba_conv
//   dt = softplus(dt + dt_bias),  A = -exp(A_log)     per head
//   h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t^T,  y_t = C_t^T h_t + D x_t
//   out = W_out RMSNorm(y * SiLU(z))      gated RMSNorm (norm after the gate)
// The SSD duality makes this scalar-decay linear attention: q = C, k = dt B,
// v = x, g = dt A (kernels::scalar_decay_chunked, scale 1), heads of
// head_dim channels, K = d_state shared by all heads.
#pragma once

#include "models/mixer.h"

namespace scalelab::models {

// Mamba2's own generation carry (MixerState::own): the last (conv - 1) conv
// inputs [B, conv_dim, conv - 1].
struct Mamba2ConvState {
  torch::Tensor inputs;
};

class Mamba2Mixer : public TokenMixer {
 public:
  explicit Mamba2Mixer(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) override;
  void init_weights(Init& init) override;

 private:
  // SiLU(causal conv) of xBC [B, T, conv_dim], continuing from STATE's buffer.
  torch::Tensor conv(const torch::Tensor& xbc, MixerState* state);

  int64_t d_inner_, d_state_, heads_, head_dim_, width_;
  Linear in_proj_{nullptr}, out_proj_{nullptr};
  torch::nn::Conv1d conv1d_{nullptr};  // depthwise: weight [conv_dim, 1, width], bias
  torch::Tensor dt_bias_, a_log_, d_skip_;  // [H] each
  RMSNorm norm_{nullptr};                    // over d_inner
};

}  // namespace scalelab::models
