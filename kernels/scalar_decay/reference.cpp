#include "kernels/scalar_decay/reference.h"

#include <limits>
#include <vector>

#include "kernels/common/linear_attn_impl.h"

namespace scalelab::kernels {

LinearAttnResult scalar_decay_reference_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v, const torch::Tensor& g,
                                                  const torch::Tensor& initial_state,
                                                  double scale) {
  const auto acc = detail::compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
  auto qf = q.to(acc) * scale, kf = k.to(acc), vf = v.to(acc), gf = g.to(acc);
  auto S = initial_state.defined() ? initial_state.to(acc)
                                   : torch::zeros({B, H, K, V}, q.options().dtype(acc));
  std::vector<torch::Tensor> o;
  o.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    auto decay = gf.select(1, t).exp().view({B, H, 1, 1});                // [B,H,1,1]
    auto kv = kf.select(1, t).unsqueeze(-1) * vf.select(1, t).unsqueeze(-2);  // [B,H,K,V]
    S = decay * S + kv;
    o.push_back(torch::einsum("bhk,bhkv->bhv", {qf.select(1, t), S}));
  }
  return {torch::stack(o, 1).to(q.scalar_type()), S};
}

LinearAttnResult scalar_decay_reference_quadratic(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v, const torch::Tensor& g,
                                                  const torch::Tensor& initial_state,
                                                  double scale) {
  const auto acc = detail::compute_dtype(q);
  const int64_t T = q.size(1);
  auto qf = (q.to(acc) * scale).transpose(1, 2);  // [B,H,T,K]
  auto kf = k.to(acc).transpose(1, 2);
  auto vf = v.to(acc).transpose(1, 2);              // [B,H,T,V]
  auto G = g.to(acc).transpose(1, 2).cumsum(-1);  // [B,H,T]
  // Mask before exp: above the diagonal G_t - G_s > 0 and could overflow.
  auto causal = torch::ones({T, T}, torch::dtype(torch::kBool).device(q.device())).tril();
  auto D = (G.unsqueeze(-1) - G.unsqueeze(-2))
               .masked_fill(causal.logical_not(), -std::numeric_limits<double>::infinity())
               .exp();  // [B,H,T,T]
  auto o = torch::matmul(torch::matmul(qf, kf.transpose(-1, -2)) * D, vf);
  // S_T = exp(G_T) S_0 + sum_s exp(G_T - G_s) k_s v_s^T
  auto GT = G.narrow(-1, T - 1, 1);  // [B,H,1]
  auto S = torch::matmul((kf * (GT - G).exp().unsqueeze(-1)).transpose(-1, -2), vf);
  if (initial_state.defined()) {
    auto S0 = initial_state.to(acc);
    o = o + torch::matmul(qf * G.exp().unsqueeze(-1), S0);
    S = S + GT.exp().unsqueeze(-1) * S0;
  }
  return {o.transpose(1, 2).to(q.scalar_type()), S};
}

}  // namespace scalelab::kernels
