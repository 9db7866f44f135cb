// Gated DeltaNet (Yang, Kautz & Hatamizadeh 2024, arXiv:2412.06464), as
// flash-linear-attention's fla/layers/gated_deltanet.py builds it (use_gate,
// use_short_conv, no conv bias, no grouped value heads):
//   [q, k, v] = SiLU(causal depthwise conv1d(x [W_q, W_k, W_v]))   width gc
//   q, k L2-normalised per head; heads H, key dim K, value dim V = gv K
//   a_t = exp(g_t),  g_t = -exp(A_log) softplus(x W_a + dt_bias)      per head
//   b_t = sigmoid(x W_b)                                             per head
//   S_t = a_t (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T,  o_t = S_t^T q_t / sqrt(K)
//   y = W_o (RMSNorm(o) * SiLU(x W_g))   gated RMSNorm per head, weight [V]
// computed by kernels::delta_rule_chunked (delta_rule_step for one token).
// The five input projections are one in_proj (same parameters as fla's
// q/k/v/g/a/b_proj) and the three convs one conv over the q, k, v channels.
#pragma once

#include "models/mixer.h"

namespace scalelab::models {

// Gated DeltaNet's own generation carry (MixerState::own): the last (gc - 1)
// conv inputs [B, 2 H K + H V, gc - 1].
struct GdnConvState {
  torch::Tensor inputs;
};

class GatedDeltaNet : public TokenMixer {
 public:
  explicit GatedDeltaNet(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) override;
  void init_weights(Init& init) override;

 private:
  int64_t heads_, k_dim_, v_dim_, width_;  // per head: K, V
  Linear in_proj_{nullptr}, out_proj_{nullptr};
  torch::nn::Conv1d conv1d_{nullptr};  // depthwise over q, k, v: weight [2HK + HV, 1, width]
  torch::Tensor a_log_, dt_bias_;      // [H] each
  RMSNorm norm_{nullptr};              // over V, shared by the heads
};

}  // namespace scalelab::models
