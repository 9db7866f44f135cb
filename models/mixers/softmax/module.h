// Llama-style causal softmax attention (Touvron et al. 2023): bias-free
// projections (q, k and v as one matmul), rotary position embedding on q and
// k (Su et al. 2021, theta 10000, rotate-half layout; kernels/rope), grouped-query attention with kv_heads
// (Ainslie et al. 2023), and at::scaled_dot_product_attention (on Hopper
// LibTorch picks cuDNN's attention: 5.5% faster a step than flash on an H200,
// though its first call per shape compiles kernels, ~1.2-1.5 s, cached on the
// node across processes; bench/RESULTS.md).
#pragma once

#include "models/mixer.h"

namespace scalelab::models {

class SoftmaxAttention : public TokenMixer {
 public:
  explicit SoftmaxAttention(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) override;
  void init_weights(Init& init) override;

 protected:  // swa (models/mixers/swa) is this attention restricted to a window
  int64_t heads_, kv_heads_, head_dim_;
  Linear wqkv_{nullptr}, wo_{nullptr};  // wqkv: q rows, then k, then v
};

}  // namespace scalelab::models
