#include "models/mixers/lightning/module.h"

#include <cmath>

#include "kernels/rms_norm/op.h"
#include "kernels/scalar_decay/op.h"
#include "kernels/split_silu/op.h"

namespace scalelab::models {

std::vector<double> alibi_slopes(int n) {
  auto power_of_2 = [](int m) {
    const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(m) - 3)));
    std::vector<double> s(m);
    for (int i = 0; i < m; ++i) s[i] = std::pow(start, i + 1);
    return s;
  };
  const int closest = 1 << static_cast<int>(std::floor(std::log2(n)));
  if (closest == n) return power_of_2(n);
  std::vector<double> s = power_of_2(closest);
  const std::vector<double> next = alibi_slopes(2 * closest);
  for (int i = 0; static_cast<int>(s.size()) < n; i += 2) s.push_back(next[i]);
  return s;
}

std::vector<double> lightning_decay_rates(int n_heads, int layer, int n_layers) {
  // Early layers decay fast (local), the last barely at all (global):
  // TransNormerLLM sec. 3.1 and MiniMax-01's slope_rate * (1 - l/(L-1) + 1e-5).
  const double depth = n_layers > 1 ? static_cast<double>(layer) / (n_layers - 1) : 0.0;
  std::vector<double> rates = alibi_slopes(n_heads);
  for (double& r : rates) r *= 1.0 - depth + 1e-5;
  return rates;
}

LightningAttention::LightningAttention(const MixerArgs& a)
    : heads_(a.spec.n_heads), head_dim_(a.spec.head_dim()) {
  const int64_t d = a.spec.d_model;
  wqkv_ = register_module("wqkv", linear(d, 3 * d));
  wg_ = register_module("wg", linear(d, d));
  wo_ = register_module("wo", linear(d, d));
  norm_ = register_module("norm", RMSNorm(d));
  std::vector<double> rates = lightning_decay_rates(a.spec.n_heads, a.layer, a.spec.n_layers);
  for (double& r : rates) r = -r;
  log_decay_ = register_buffer("log_decay", torch::tensor(rates, torch::kFloat32));
}

torch::Tensor LightningAttention::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
  auto h = wqkv_(x);  // q | k | v before their SiLU
  kernels::LinearAttnOptions opt;
  opt.scale = 1.0;  // published: no 1/sqrt(d) (the output norm absorbs scale)
  opt.output_final_state = state != nullptr;
  torch::Tensor init = state ? state->ssm : torch::Tensor();
  kernels::LinearAttnResult r;
  if (state && t == 1) {
    auto qkv = kernels::split_silu(h.select(1, 0), {d, d, d});
    auto head = [&](const torch::Tensor& p) { return p.view({b, heads_, head_dim_}); };
    auto g = log_decay_.to(x.device()).expand({b, heads_});
    r = kernels::scalar_decay_step(head(qkv[0]), head(qkv[1]), head(qkv[2]), g, init, 1.0);
    r.o = r.o.unsqueeze(1);
  } else {
    auto g = log_decay_.to(x.device()).expand({b, t, heads_}).contiguous();
    r = kernels::scalar_decay_chunked_silu_qkv(h, heads_, g, init, opt);
  }
  if (state) {
    state->ssm = r.final_state;
    state->pos += t;
  }
  // The norm and the sigmoid output gate in one op.
  auto o = r.o.reshape({b, t, d});
  return wo_(kernels::gated_rms_norm(o, wg_(x), norm_->weight, norm_->eps(),
                                     kernels::Gate::SigmoidAfter, {}, {}, norm_->out_dtype(o)));
}

void LightningAttention::init_weights(Init& init) {
  init.weight(wqkv_->weight);
  init.weight(wg_->weight);
  init.residual_weight(wo_->weight);
  norm_->init_weights(init);
}

MixerModule builtin::lightning() { return module_of<LightningAttention>(); }

}  // namespace scalelab::models
