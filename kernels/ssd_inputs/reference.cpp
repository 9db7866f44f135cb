#include "kernels/ssd_inputs/op.h"

namespace scalelab::kernels {

SsdInputs ssd_inputs_reference(const torch::Tensor& xbc, const torch::Tensor& dt,
                               const torch::Tensor& dt_bias, const torch::Tensor& a_log,
                               int64_t heads, int64_t head_dim, int64_t d_state) {
  const int64_t b = xbc.size(0), t = xbc.size(1), di = heads * head_dim;
  const auto acc = xbc.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto dth = torch::softplus(dt.to(acc) + dt_bias.to(acc));  // [B, T, H]
  auto xs = xbc.narrow(2, 0, di).reshape({b, t, heads, head_dim});
  auto bm = xbc.narrow(2, di, d_state).unsqueeze(2);             // [B, T, 1, N]
  auto cm = xbc.narrow(2, di + d_state, d_state).unsqueeze(2);  // [B, T, 1, N]
  SsdInputs r;
  r.q = cm.expand({b, t, heads, d_state}).contiguous();
  r.k = (bm.to(acc) * dth.unsqueeze(-1)).to(xbc.scalar_type());
  r.v = xs.contiguous();
  r.g = dth * -torch::exp(a_log.to(acc));
  return r;
}

}  // namespace scalelab::kernels
