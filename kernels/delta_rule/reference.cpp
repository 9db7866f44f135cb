#include "kernels/delta_rule/reference.h"

#include <vector>

#include "kernels/common/linear_attn_impl.h"

namespace scalelab::kernels {

LinearAttnResult delta_rule_reference_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                                const torch::Tensor& v, const torch::Tensor& g,
                                                const torch::Tensor& beta,
                                                const torch::Tensor& initial_state, double scale) {
  const auto acc = detail::compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
  auto qf = q.to(acc) * scale, kf = k.to(acc), vf = v.to(acc), gf = g.to(acc), bf = beta.to(acc);
  auto S = initial_state.defined() ? initial_state.to(acc)
                                   : torch::zeros({B, H, K, V}, q.options().dtype(acc));
  std::vector<torch::Tensor> o;
  o.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    auto k_t = kf.select(1, t);                                              // [B,H,K]
    S = gf.select(1, t).exp().view({B, H, 1, 1}) * S;                        // decay first
    auto predicted = torch::einsum("bhk,bhkv->bhv", {k_t, S});               // S^T k
    auto u = bf.select(1, t).unsqueeze(-1) * (vf.select(1, t) - predicted);  // [B,H,V]
    S = S + k_t.unsqueeze(-1) * u.unsqueeze(-2);                             // the delta update
    o.push_back(torch::einsum("bhk,bhkv->bhv", {qf.select(1, t), S}));
  }
  return {torch::stack(o, 1).to(q.scalar_type()), S};
}

}  // namespace scalelab::kernels
