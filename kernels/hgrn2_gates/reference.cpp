#include "kernels/hgrn2_gates/op.h"

namespace scalelab::kernels {

Hgrn2Gates hgrn2_gates_reference(const torch::Tensor& h, const torch::Tensor& lower_bound) {
  const int64_t d = h.size(-1) / 3;
  const auto acc = h.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto f = h.narrow(-1, d, d).to(acc);
  Hgrn2Gates r;
  r.q = torch::silu(h.narrow(-1, 0, d)).contiguous();
  r.v = h.narrow(-1, 2 * d, d).contiguous();
  if (!lower_bound.defined()) {
    r.g = torch::log_sigmoid(f);
    r.k = torch::sigmoid(-f).to(h.scalar_type());
  } else {
    auto lb = lower_bound.to(acc);
    auto forget = lb + (1 - lb) * torch::sigmoid(f);
    r.g = torch::log(forget);
    r.k = (1 - forget).to(h.scalar_type());
  }
  return r;
}

}  // namespace scalelab::kernels
