#include "kernels/rms_norm/op.h"

namespace scalelab::kernels {

torch::Tensor rms_norm_reference(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                 std::optional<at::ScalarType> out) {
  // fp32 statistics: bf16 sums of squares lose the small channels.
  const auto acc = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto y = at::rms_norm(x.to(acc), {x.size(-1)}, weight.to(acc), eps);
  return y.to(out.value_or(x.scalar_type()));
}

}  // namespace scalelab::kernels
