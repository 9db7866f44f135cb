// Llama-style causal softmax attention (Touvron et al. 2023): bias-free
// projections, rotary position embedding on q and k (Su et al. 2021, theta
// 10000, rotate-half layout), grouped-query attention with kv_heads
// (Ainslie et al. 2023), and at::scaled_dot_product_attention (flash /
// memory-efficient kernels on a GPU).
#pragma once

#include "models/mixer.h"

namespace scalelab::models {

// Rotates x [B, T, H, hd] by the RoPE angles of positions pos0 .. pos0+T-1.
torch::Tensor apply_rope(const torch::Tensor& x, int64_t pos0, double theta = 10000.0);

class SoftmaxAttention : public TokenMixer {
 public:
  explicit SoftmaxAttention(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) override;
  void init_weights(Init& init) override;

 private:
  int64_t heads_, kv_heads_, head_dim_;
  torch::nn::Linear wq_{nullptr}, wk_{nullptr}, wv_{nullptr}, wo_{nullptr};
};

}  // namespace scalelab::models
