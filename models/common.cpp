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

// A contiguous fp32 tensor on the CPU (every parameter while a model is built)
// is drawn into in place: the same values as a fresh tensor's draw (ATen takes
// the same contiguous path), without a second copy of the model in memory.
static bool drawn_in_place(const torch::Tensor& p) {
  return p.device().is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous();
}

void Init::normal(torch::Tensor& p, double std) {
  torch::NoGradGuard no_grad;
  if (drawn_in_place(p)) p.normal_(0.0, std, gen_);
  else copy(p, at::normal(0.0, std, p.sizes(), gen_, torch::dtype(torch::kFloat32)));
}

void Init::uniform(torch::Tensor& p, double lo, double hi) {
  torch::NoGradGuard no_grad;
  if (drawn_in_place(p)) p.uniform_(lo, hi, gen_);
  else copy(p, torch::empty(p.sizes(), torch::kFloat32).uniform_(lo, hi, gen_));
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

WeightOnly::WeightOnly(at::IntArrayRef shape)
    : weight(register_parameter("weight", torch::empty(shape))) {}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) { return at::linear(x, weight); }

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) { return at::embedding(weight, ids); }

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

namespace {

struct SplitLastFn : torch::autograd::Function<SplitLastFn> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::Tensor& x, std::vector<int64_t> sizes) {
    torch::autograd::variable_list parts;
    int64_t at = 0;
    for (int64_t n : sizes) {
      parts.push_back(x.narrow(-1, at, n));
      at += n;
    }
    ctx->saved_data["sizes"] = sizes;
    ctx->saved_data["shape"] = x.sizes().vec();
    ctx->saved_data["dtype"] = static_cast<int64_t>(x.scalar_type());
    return parts;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    auto shape = ctx->saved_data["shape"].toIntVector();
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    const torch::Tensor* any = nullptr;
    for (auto& g : grads)
      if (g.defined()) any = &g;
    std::vector<torch::Tensor> parts;
    for (size_t i = 0; i < sizes.size(); ++i) {
      shape.back() = sizes[i];
      parts.push_back(grads[i].defined() ? grads[i].to(dtype)
                                         : torch::zeros(shape, any->options().dtype(dtype)));
    }
    return {torch::cat(parts, -1), torch::Tensor()};
  }
};

}  // namespace

std::vector<torch::Tensor> split_last(const torch::Tensor& x, const std::vector<int64_t>& sizes) {
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == total, "split_last: parts of ", total,
              " columns from ", x.sizes());
  return SplitLastFn::apply(x, sizes);
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
