// Lightning attention: linear attention with a fixed per-head exponential
// decay, as in TransNormerLLM (Qin et al. 2023, arXiv:2307.14995), Lightning
// Attention-2 (arXiv:2401.04658) and MiniMax-01 (arXiv:2501.08313). This is
// MiniMax-01's layer:
//   [q, k, v] = SiLU(x W_qkv)                      per head [hd] each
//   S_t = lambda_h S_{t-1} + k_t v_t^T,  o_t = S_t^T q_t   (no q scaling)
//   lambda_h = exp(-s_h (1 - l/(L-1) + 1e-5))      s_h: ALiBi slopes, l: layer
//   y = W_o (sigmoid(x W_g) * RMSNorm(o))
// computed block-wise by kernels::scalar_decay_chunked with g = log lambda_h.
#pragma once

#include <vector>

#include "models/mixer.h"

namespace scalelab::models {

// ALiBi slopes (Press et al. 2022) for N heads: 2^(-8i/N), i = 1..N for N a
// power of two; otherwise those of the nearest lower power plus every other
// slope of the next one (the reference get_slopes).
std::vector<double> alibi_slopes(int n_heads);
// The per-head decay rates s_h of layer `layer` of `n_layers` (lambda = exp(-rate)).
std::vector<double> lightning_decay_rates(int n_heads, int layer, int n_layers);

class LightningAttention : public TokenMixer {
 public:
  explicit LightningAttention(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) override;
  void init_weights(Init& init) override;

 private:
  int64_t heads_, head_dim_;
  Linear wqkv_{nullptr}, wg_{nullptr}, wo_{nullptr};
  RMSNorm norm_{nullptr};
  torch::Tensor log_decay_;  // buffer [H]: log lambda_h (fixed, not trained)
};

}  // namespace scalelab::models
