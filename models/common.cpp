#include "models/common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include <cmath>

#include "kernels/causal_conv1d/op.h"
#include "kernels/rms_norm/op.h"
#include "kernels/swiglu/op.h"

namespace scalelab::models {

Init::Init(uint64_t seed, int n_layers)
    : gen_(at::make_generator<at::CPUGeneratorImpl>(seed)), n_layers_(n_layers) {}

void Init::copy(torch::Tensor& p, const torch::Tensor& value) {
  torch::NoGradGuard no_grad;
  p.copy_(value.to(p.options().device(p.device())));
}

void Init::normal(torch::Tensor& p, double std) {
  copy(p, at::normal(0.0, std, p.sizes(), gen_, torch::dtype(torch::kFloat32)));
}

void Init::uniform(torch::Tensor& p, double lo, double hi) {
  copy(p, torch::empty(p.sizes(), torch::kFloat32).uniform_(lo, hi, gen_));
}

void Init::fill(torch::Tensor& p, double value) {
  torch::NoGradGuard no_grad;
  p.fill_(value);
}

void Init::residual_weight(torch::Tensor& p) { normal(p, 0.02 / std::sqrt(2.0 * n_layers_)); }

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : dim_(dim), eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

// Under autocast every consumer of a norm is a low-precision matmul, so the
// norm writes that dtype directly (statistics stay fp32 in the op).
at::ScalarType RMSNormImpl::out_dtype(const torch::Tensor& x) const {
  const auto dev = x.device().type();
  const bool low = x.is_cuda() && at::autocast::is_autocast_enabled(dev);
  return low ? at::autocast::get_autocast_dtype(dev) : x.scalar_type();
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return kernels::rms_norm(x, weight, eps_, out_dtype(x));
}

std::pair<torch::Tensor, torch::Tensor> RMSNormImpl::add_forward(const torch::Tensor& x,
                                                                 const torch::Tensor& a) {
  return kernels::add_rms_norm(x, a, weight, eps_, out_dtype(x));
}

torch::nn::Linear linear(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

SwiGLUImpl::SwiGLUImpl(int64_t d_model, int64_t d_ffn) : d_ffn_(d_ffn) {
  w13_ = register_module("w13", linear(d_model, 2 * d_ffn));
  w2_ = register_module("w2", linear(d_ffn, d_model));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  return w2_(kernels::swiglu(w13_(x)));
}

void SwiGLUImpl::init_weights(Init& init) {
  // W1 then W3, drawn as two matrices: the same weights as separate layers.
  auto w1 = w13_->weight.narrow(0, 0, d_ffn_), w3 = w13_->weight.narrow(0, d_ffn_, d_ffn_);
  init.weight(w1);
  init.weight(w3);
  init.residual_weight(w2_->weight);
}

torch::Tensor causal_conv_silu(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, torch::Tensor* buffer) {
  // Without a state to keep (training), the fused [B, T, C] kernel.
  if (!buffer) return kernels::causal_conv1d(x, weight.squeeze(1), bias, true);
  const int64_t b = x.size(0), channels = x.size(2), width = weight.size(2);
  auto u = x.transpose(1, 2);  // [B, C, T]
  // Left context: the previous inputs (generation) or zeros (causal padding).
  auto past = buffer && buffer->defined() ? buffer->to(u.scalar_type())
                                          : torch::zeros({b, channels, width - 1}, u.options());
  auto padded = torch::cat({past, u}, 2);
  if (buffer) *buffer = padded.narrow(2, padded.size(2) - (width - 1), width - 1);
  // Explicit int64 lists: a bare 0 also converts to conv1d's string padding overload.
  const std::vector<int64_t> one{1}, zero{0};
  auto y = torch::conv1d(padded, weight, bias, one, zero, one, channels);
  return torch::silu(y).transpose(1, 2);
}

}  // namespace scalelab::models
