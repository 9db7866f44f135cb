#include "models/mixers/mamba2/module.h"

#include <cmath>

#include "kernels/rms_norm/op.h"
#include "kernels/scalar_decay/op.h"
#include "kernels/ssd_inputs/op.h"
#include "models/mixers/mamba2/shape.h"

namespace scalelab::models {

Mamba2Mixer::Mamba2Mixer(const MixerArgs& a)
    : d_inner_(mixers::mamba2::d_inner(a.spec)),
      d_state_(mixers::mamba2::d_state(a.spec)),
      heads_(mixers::mamba2::heads(a.spec)),
      head_dim_(mixers::mamba2::head_dim(a.spec)),
      width_(mixers::mamba2::conv(a.spec)) {
  const int64_t d = a.spec.d_model, conv_dim = d_inner_ + 2 * d_state_;
  in_proj_ = register_module("in_proj", linear(d, 2 * d_inner_ + 2 * d_state_ + heads_));
  conv1d_ = register_module(
      "conv1d", torch::nn::Conv1d(
                    torch::nn::Conv1dOptions(conv_dim, conv_dim, width_).groups(conv_dim).bias(true)));
  dt_bias_ = register_parameter("dt_bias", torch::zeros({heads_}));
  a_log_ = register_parameter("A_log", torch::zeros({heads_}));
  d_skip_ = register_parameter("D", torch::ones({heads_}));
  norm_ = register_module("norm", RMSNorm(d_inner_));
  out_proj_ = register_module("out_proj", linear(d_inner_, d));
}

torch::Tensor Mamba2Mixer::conv(const torch::Tensor& xbc, MixerState* state) {
  torch::Tensor* buffer = state ? &state->own_as<Mamba2ConvState>().inputs : nullptr;
  return causal_conv_silu(xbc, conv1d_->weight, conv1d_->bias, buffer);
}

torch::Tensor Mamba2Mixer::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1);
  auto zxbcdt = in_proj_(x);
  auto z = zxbcdt.narrow(2, 0, d_inner_);
  auto xbc_in = zxbcdt.narrow(2, d_inner_, d_inner_ + 2 * d_state_);
  auto dt = zxbcdt.narrow(2, 2 * d_inner_ + 2 * d_state_, heads_);
  auto xbc = conv(xbc_in, state);
  // SSD as linear attention: dt scales the input (k = dt B) and the decay (g = dt A).
  auto in = kernels::ssd_inputs(xbc, dt, dt_bias_, a_log_, heads_, head_dim_, d_state_);
  torch::Tensor init = state ? state->ssm : torch::Tensor();
  kernels::LinearAttnResult r;
  if (state && t == 1) {
    r = kernels::scalar_decay_step(in.q.select(1, 0), in.k.select(1, 0), in.v.select(1, 0),
                                   in.g.select(1, 0), init, 1.0);
    r.o = r.o.unsqueeze(1);
  } else {
    kernels::LinearAttnOptions opt;
    opt.scale = 1.0;
    opt.output_final_state = state != nullptr;
    r = kernels::scalar_decay_chunked(in.q, in.k, in.v, in.g, init, opt);
  }
  if (state) {
    state->ssm = r.final_state;
    state->pos += t;
  }
  // The D skip, the SiLU(z) gate and the norm in one op (mamba_ssm's
  // RMSNormGated, norm after the gate).
  auto y = kernels::gated_rms_norm(r.o.reshape({b, t, d_inner_}), z, norm_->weight, norm_->eps(),
                                   kernels::Gate::SiluBefore, in.v.reshape({b, t, d_inner_}),
                                   d_skip_, norm_->out_dtype(r.o));
  return out_proj_(y);
}

void Mamba2Mixer::init_weights(Init& init) {
  init.weight(in_proj_->weight);
  init.residual_weight(out_proj_->weight);
  // PyTorch's Conv1d default: U(+-1/sqrt(fan_in)), fan_in = width (depthwise).
  const double bound = 1.0 / std::sqrt(static_cast<double>(width_));
  init.uniform(conv1d_->weight, -bound, bound);
  init.uniform(conv1d_->bias, -bound, bound);
  // mamba_ssm: dt log-uniform in [1e-3, 1e-1] (floor 1e-4), dt_bias its
  // inverse softplus; A uniform in [1, 16]; D = 1.
  auto u = torch::empty({heads_}, torch::kFloat64).uniform_(0.0, 1.0, init.generator());
  auto dt = torch::exp(u * (std::log(0.1) - std::log(1e-3)) + std::log(1e-3)).clamp_min(1e-4);
  init.copy(dt_bias_, dt + torch::log(-torch::expm1(-dt)));
  init.copy(a_log_, torch::log(torch::empty({heads_}, torch::kFloat64).uniform_(1.0, 16.0, init.generator())));
  init.fill(d_skip_, 1.0);
  norm_->init_weights(init);
}

MixerModule builtin::mamba2() { return module_of<Mamba2Mixer>(); }

}  // namespace scalelab::models
