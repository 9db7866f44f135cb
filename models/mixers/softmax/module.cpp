#include "models/mixers/softmax/module.h"

#include "kernels/rope/op.h"

namespace scalelab::models {

SoftmaxAttention::SoftmaxAttention(const MixerArgs& a)
    : heads_(a.spec.n_heads), kv_heads_(a.spec.kv_heads()), head_dim_(a.spec.head_dim()) {
  const int64_t d = a.spec.d_model;
  wqkv_ = register_module("wqkv", linear(d, (heads_ + 2 * kv_heads_) * head_dim_));
  wo_ = register_module("wo", linear(heads_ * head_dim_, d));
}

torch::Tensor SoftmaxAttention::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1);
  const int64_t pos0 = state ? state->pos : 0;
  // One projection, then RoPE on q and k in [B, T, H, hd]; SDPA takes [B, H, T, hd].
  auto qkv = kernels::rope_qkv(wqkv_(x).view({b, t, heads_ + 2 * kv_heads_, head_dim_}), heads_,
                               kv_heads_, pos0);
  auto q = qkv.q.transpose(1, 2), k = qkv.k.transpose(1, 2), v = qkv.v.transpose(1, 2);
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
  // q, k, v drawn as three matrices: the same weights as separate layers.
  const int64_t nq = heads_ * head_dim_, nkv = kv_heads_ * head_dim_;
  auto wq = wqkv_->weight.narrow(0, 0, nq), wk = wqkv_->weight.narrow(0, nq, nkv),
       wv = wqkv_->weight.narrow(0, nq + nkv, nkv);
  init.weight(wq);
  init.weight(wk);
  init.weight(wv);
  init.residual_weight(wo_->weight);
}

MixerModule builtin::softmax() { return module_of<SoftmaxAttention>(); }

}  // namespace scalelab::models
