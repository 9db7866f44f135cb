// HGRN2 (Qin et al. 2024, "HGRN2: Gated Linear RNNs with State Expansion",
// arXiv:2404.07904), as fla/layers/hgrn2.py builds it:
//   f_t = lb_l + (1 - lb_l) sigmoid(x W_f)     forget gate, per key dim [H, K]
//   q_t = SiLU(x W_q)  (HGRN's output gate, used as the query)
//   k_t = 1 - f_t,  v_t = x W_i
//   S_t = diag(f_t) S_{t-1} + k_t v_t^T,  o_t = S_t^T q_t   (no q scaling)
//   y = W_o RMSNorm(o)
// The layer-wise lower bound lb_l is learned at the model level: a [L_h, d]
// parameter P, lb = cumsum(softmax(P, 0), 0) - softmax(P, 0)[0], so lb rises
// with depth and the first hgrn2 layer has none (HGRN, NeurIPS 2023, sec. 3.2).
// Key and value head dims are both d_model / heads (fla's expand_ratio =
// head dim when heads are given). Computed by kernels::vector_decay_chunked
// with g = log f; the gates come from kernels/hgrn2_gates.
#pragma once

#include "models/mixer.h"

namespace scalelab::models {

class Hgrn2Attention : public TokenMixer {
 public:
  explicit Hgrn2Attention(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) override;
  void init_weights(Init& init) override;

 private:
  // This layer's lower bound lb_l [d] (undefined for the first HGRN2 layer).
  torch::Tensor lower_bound() const;

  int64_t heads_, head_dim_;
  Linear wqfi_{nullptr}, wo_{nullptr};  // wqfi: W_q, W_f, W_i stacked (one matmul)
  RMSNorm norm_{nullptr};
  torch::Tensor lower_bounds_;  // the decoder's shared [L_h, d] parameter (not registered here)
  int index_;                   // this layer's row
};

}  // namespace scalelab::models
