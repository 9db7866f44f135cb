#include "kernels/rms_norm/op.h"

namespace scalelab::kernels {

torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                 std::optional<at::ScalarType> out) {
  // fp32 statistics: bf16 sums of squares lose the small channels.
  const auto acc = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto y = at::rms_norm(x.to(acc), {x.size(-1)}, weight.to(acc), eps);
  return y.to(out.value_or(x.scalar_type()));
}

torch::Tensor gated_rms_norm_reference(const torch::Tensor& x, const torch::Tensor& g,
                                       const torch::Tensor& weight, double eps, Gate gate,
                                       const torch::Tensor& v, const torch::Tensor& D,
                                       std::optional<at::ScalarType> out) {
  const auto acc = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto u = x.to(acc);
  if (v.defined()) {
    const int64_t heads = D.numel(), d = x.size(-1);
    auto shape = v.sizes().vec();
    shape.back() = heads;
    shape.push_back(d / heads);
    u = u + (v.to(acc).view(shape) * D.to(acc).view({heads, 1})).view(x.sizes());
  }
  auto gf = g.to(acc);
  auto y = gate == Gate::SiluBefore
               ? at::rms_norm(u * torch::silu(gf), {x.size(-1)}, weight.to(acc), eps)
               : at::rms_norm(u, {x.size(-1)}, weight.to(acc), eps) *
                     (gate == Gate::SigmoidAfter ? torch::sigmoid(gf) : torch::silu(gf));
  return y.to(out.value_or(x.scalar_type()));
}

}  // namespace scalelab::kernels
