#include "models/mixers/softmax/module.h"

namespace scalelab::models {

torch::Tensor apply_rope(const torch::Tensor& x, int64_t pos0, double theta) {
  const int64_t t = x.size(1), hd = x.size(3), half = hd / 2;
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(x.device());
  // inv_freq_i = theta^(-2i/hd); angle = position * inv_freq (fp32: bf16
  // positions lose precision beyond a few hundred tokens).
  auto inv_freq = torch::pow(theta, -torch::arange(0, half, opts) * 2.0 / static_cast<double>(hd));
  auto pos = torch::arange(pos0, pos0 + t, opts);
  auto angle = torch::outer(pos, inv_freq).view({1, t, 1, half});
  auto cos = angle.cos(), sin = angle.sin();
  auto xf = x.to(torch::kFloat32);
  auto x1 = xf.narrow(3, 0, half), x2 = xf.narrow(3, half, half);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, 3).to(x.scalar_type());
}

SoftmaxAttention::SoftmaxAttention(const MixerArgs& a)
    : heads_(a.spec.n_heads), kv_heads_(a.spec.kv_heads()), head_dim_(a.spec.head_dim()) {
  const int64_t d = a.spec.d_model;
  wq_ = register_module("wq", linear(d, heads_ * head_dim_));
  wk_ = register_module("wk", linear(d, kv_heads_ * head_dim_));
  wv_ = register_module("wv", linear(d, kv_heads_ * head_dim_));
  wo_ = register_module("wo", linear(heads_ * head_dim_, d));
}

torch::Tensor SoftmaxAttention::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1);
  const int64_t pos0 = state ? state->pos : 0;
  // [B, T, H, hd] for RoPE, then [B, H, T, hd] for SDPA.
  auto q = apply_rope(wq_(x).view({b, t, heads_, head_dim_}), pos0).transpose(1, 2);
  auto k = apply_rope(wk_(x).view({b, t, kv_heads_, head_dim_}), pos0).transpose(1, 2);
  auto v = wv_(x).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  std::optional<torch::Tensor> mask;
  bool causal = true;
  if (state) {
    if (state->k.defined()) {
      k = torch::cat({state->k, k}, 2);
      v = torch::cat({state->v, v}, 2);
      causal = false;
      // Query i sits at position pos0 + i and sees keys 0 .. pos0 + i. SDPA's
      // is_causal aligns the mask top-left, which is wrong with a cache.
      if (t > 1) {
        auto qi = torch::arange(pos0, pos0 + t, torch::dtype(torch::kLong).device(x.device()));
        auto kj = torch::arange(0, pos0 + t, torch::dtype(torch::kLong).device(x.device()));
        mask = kj.unsqueeze(0) <= qi.unsqueeze(1);
      }
    }
    state->k = k;
    state->v = v;
    state->pos = pos0 + t;
  }
  auto o = at::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, std::nullopt,
                                            /*enable_gqa=*/kv_heads_ != heads_);
  return wo_(o.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
}

void SoftmaxAttention::init_weights(Init& init) {
  init.weight(wq_->weight);
  init.weight(wk_->weight);
  init.weight(wv_->weight);
  init.residual_weight(wo_->weight);
}

MixerModule builtin::softmax() { return module_of<SoftmaxAttention>(); }

}  // namespace scalelab::models
