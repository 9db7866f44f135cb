#include "models/mixers/gdn/module.h"

#include <cmath>

#include "kernels/delta_rule/op.h"
#include "kernels/rms_norm/op.h"
#include "models/mixers/gdn/shape.h"

namespace scalelab::models {

namespace {

// x / sqrt(sum x^2 + 1e-6) over the head dim (fla's l2norm), statistics in
// fp32, as the fused RMSNorm computes it: sum x^2 + 1e-6 = D (mean x^2 +
// 1e-6 / D), so it is rms_norm(x, eps 1e-6 / D) with weight W = D^-1/2 (the
// same W for q and k: l2_weight). One kernel each way on a GPU instead of
// eight LibTorch passes over an fp32 copy.
torch::Tensor l2_weight(int64_t d, const torch::Tensor& like) {
  return torch::full({d}, 1.0 / std::sqrt(static_cast<double>(d)),
                     like.options().dtype(torch::kFloat32));
}
torch::Tensor l2_normalise(const torch::Tensor& x, const torch::Tensor& w) {
  return kernels::rms_norm(x, w, 1e-6 / static_cast<double>(x.size(-1)), x.scalar_type());
}

}  // namespace

GatedDeltaNet::GatedDeltaNet(const MixerArgs& a)
    : heads_(a.spec.n_heads),
      k_dim_(mixers::gdn::head_dim(a.spec)),
      v_dim_(mixers::gdn::value_head_dim(a.spec)),
      width_(mixers::gdn::conv(a.spec)) {
  const int64_t d = a.spec.d_model, conv_dim = mixers::gdn::conv_dim(a.spec);
  in_proj_ = register_module("in_proj", linear(d, mixers::gdn::in_proj_out(a.spec)));
  conv1d_ = register_module(
      "conv1d",
      torch::nn::Conv1d(
          torch::nn::Conv1dOptions(conv_dim, conv_dim, width_).groups(conv_dim).bias(false)));
  a_log_ = register_parameter("A_log", torch::zeros({heads_}));
  dt_bias_ = register_parameter("dt_bias", torch::zeros({heads_}));
  norm_ = register_module("norm", RMSNorm(v_dim_));
  out_proj_ = register_module("out_proj", linear(heads_ * v_dim_, d));
}

torch::Tensor GatedDeltaNet::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1);
  const int64_t kd = heads_ * k_dim_, vd = heads_ * v_dim_;
  // split_last, not narrow: the backward writes each packed gradient with one
  // cat instead of a zero-filled full-width tensor per part plus their sums.
  auto proj = split_last(in_proj_(x), {2 * kd + vd, vd, 2 * heads_});  // [q, k, v | gate | a, b]
  torch::Tensor* buffer = state ? &state->own_as<GdnConvState>().inputs : nullptr;
  auto qkv = split_last(causal_conv_silu(proj[0], conv1d_->weight, {}, buffer), {kd, kd, vd});
  const auto l2w = l2_weight(k_dim_, x);
  auto q = l2_normalise(qkv[0].reshape({b, t, heads_, k_dim_}), l2w);
  auto k = l2_normalise(qkv[1].reshape({b, t, heads_, k_dim_}), l2w);
  auto v = qkv[2].reshape({b, t, heads_, v_dim_});
  auto gate = proj[1].reshape({b, t, heads_, v_dim_});
  auto ab = split_last(proj[2].to(torch::kFloat32), {heads_, heads_});
  // log a_t = -exp(A_log) softplus(x W_a + dt_bias) <= 0; b_t = sigmoid(x W_b).
  auto g = -torch::exp(a_log_.to(torch::kFloat32)) *
           torch::softplus(ab[0] + dt_bias_.to(torch::kFloat32));
  auto beta = torch::sigmoid(ab[1]);
  torch::Tensor init = state ? state->ssm : torch::Tensor();
  kernels::LinearAttnResult r;
  if (state && t == 1) {
    r = kernels::delta_rule_step(q.select(1, 0), k.select(1, 0), v.select(1, 0), g.select(1, 0),
                                 beta.select(1, 0), init);
    r.o = r.o.unsqueeze(1);
  } else {
    kernels::LinearAttnOptions opt;  // scale K^-0.5, as fla
    opt.output_final_state = state != nullptr;
    r = kernels::delta_rule_chunked(q, k, v.contiguous(), g, beta, init, opt);
  }
  if (state) {
    state->ssm = r.final_state;
    state->pos += t;
  }
  // fla's FusedRMSNormGated: norm over each head's V columns, then * silu(gate).
  auto o = kernels::gated_rms_norm(r.o, gate, norm_->weight, norm_->eps(), kernels::Gate::SiluAfter,
                                   {}, {}, norm_->out_dtype(r.o));
  return out_proj_(o.reshape({b, t, vd}));
}

void GatedDeltaNet::init_weights(Init& init) {
  init.weight(in_proj_->weight);
  init.residual_weight(out_proj_->weight);
  // PyTorch's Conv1d default: U(+-1/sqrt(fan_in)), fan_in = width (depthwise).
  const double bound = 1.0 / std::sqrt(static_cast<double>(width_));
  init.uniform(conv1d_->weight, -bound, bound);
  // fla's GatedDeltaNet: A ~ U(0, 16); dt log-uniform in [1e-3, 1e-1] (floor
  // 1e-4) and dt_bias its inverse softplus.
  init.copy(a_log_, torch::log(torch::empty({heads_}, torch::kFloat64)
                                   .uniform_(0.0, 16.0, init.generator())
                                   .clamp_min(1e-4)));
  auto u = torch::empty({heads_}, torch::kFloat64).uniform_(0.0, 1.0, init.generator());
  auto dt = torch::exp(u * (std::log(0.1) - std::log(1e-3)) + std::log(1e-3)).clamp_min(1e-4);
  init.copy(dt_bias_, dt + torch::log(-torch::expm1(-dt)));
  norm_->init_weights(init);
}

MixerModule builtin::gdn() { return module_of<GatedDeltaNet>(); }

}  // namespace scalelab::models
