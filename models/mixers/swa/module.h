// Sliding-window attention: Llama-style softmax attention (RoPE, GQA, no
// biases) in which a query sees only the last w keys, its own included
// (Gemma 3's local layers, Mistral's sliding window): query i attends to keys
// j with i - w < j <= i. Softmax's weights and initialisation (wqkv, wo):
// only the attention itself differs.
// On the CPU the band is computed block by block, so memory grows with
// T (block + w), never T x T; the KV cache of generation keeps the last
// w - 1 keys. (On a GPU, flash attention's window_size = (w - 1, 0) is the
// same band.)
#pragma once

#include "models/mixers/softmax/module.h"

namespace scalelab::models {

// Causal band attention: q [B, H, Tq, hd] for the last Tq of the P + Tq keys
// in k, v [B, KV, P + Tq, hd] (P cached ones first); query i sits at key
// position P + i and sees keys j with P + i - W < j <= P + i. GQA when
// KV < H. Returns [B, H, Tq, hd].
torch::Tensor band_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             int64_t window);

class SlidingWindowAttention : public SoftmaxAttention {
 public:
  explicit SlidingWindowAttention(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) override;

 private:
  int64_t window_;
};

}  // namespace scalelab::models
