#include "models/mixers/swa/module.h"

#include <algorithm>

#include "kernels/rope/op.h"
#include "models/mixers/swa/shape.h"

namespace scalelab::models {

torch::Tensor band_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             int64_t window) {
  const int64_t tq = q.size(2), keys = k.size(2), cached = keys - tq;
  const bool gqa = k.size(1) != q.size(1);
  // The whole band in one call when it is the plain causal mask (the window
  // covers every key): SDPA's own causal kernels.
  if (cached == 0 && window >= tq)
    return at::scaled_dot_product_attention(q, k, v, std::nullopt, 0.0, true, std::nullopt, gqa);
  // Otherwise blocks of queries, each against the keys its band can reach:
  // [first - w + 1, last], so a block costs block x (block + w - 1).
  const int64_t block = std::max<int64_t>(window, 64);
  const auto idx = torch::dtype(torch::kLong).device(q.device());
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < tq; s += block) {
    const int64_t e = std::min(tq, s + block);
    const int64_t lo = std::max<int64_t>(0, cached + s - window + 1), hi = cached + e;
    auto qi = torch::arange(cached + s, cached + e, idx).unsqueeze(1);  // query positions
    auto kj = torch::arange(lo, hi, idx).unsqueeze(0);                  // key positions
    auto mask = (kj <= qi).logical_and(kj > qi - window);               // [e - s, hi - lo]
    out.push_back(at::scaled_dot_product_attention(q.narrow(2, s, e - s), k.narrow(2, lo, hi - lo),
                                                   v.narrow(2, lo, hi - lo), mask, 0.0, false,
                                                   std::nullopt, gqa));
  }
  return out.size() == 1 ? out[0] : torch::cat(out, 2);
}

SlidingWindowAttention::SlidingWindowAttention(const MixerArgs& a)
    : SoftmaxAttention(a), window_(mixers::swa::window(a.spec)) {}

torch::Tensor SlidingWindowAttention::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1);
  const int64_t pos0 = state ? state->pos : 0;
  // As softmax: one projection, RoPE at absolute positions, then [B, H, T, hd].
  auto qkv = kernels::rope_qkv(wqkv_(x).view({b, t, heads_ + 2 * kv_heads_, head_dim_}), heads_,
                               kv_heads_, pos0);
  auto q = qkv.q.transpose(1, 2), k = qkv.k.transpose(1, 2), v = qkv.v.transpose(1, 2);
  if (state) {
    if (state->k.defined()) {
      k = torch::cat({state->k, k}, 2);
      v = torch::cat({state->v, v}, 2);
    }
    // The next query sees itself and the w - 1 keys before it: the cache
    // never holds more.
    const int64_t keep = std::min<int64_t>(k.size(2), window_ - 1);
    state->k = k.narrow(2, k.size(2) - keep, keep).clone();
    state->v = v.narrow(2, v.size(2) - keep, keep).clone();
    state->pos = pos0 + t;
  }
  auto o = band_attention(q, k, v, window_);
  return wo_(o.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
}

MixerModule builtin::swa() { return module_of<SlidingWindowAttention>(); }

}  // namespace scalelab::models
