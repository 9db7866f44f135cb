#include "kernels/delta_rule/chunk.h"

#include <limits>
#include <vector>

#include "kernels/common/linear_attn_impl.h"

namespace scalelab::kernels {

LinearAttnResult delta_rule_chunk_torch(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& g,
                                        const torch::Tensor& beta,
                                        const torch::Tensor& initial_state, double scale,
                                        int64_t chunk_size) {
  const auto acc = detail::compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
  const int64_t C = std::min(chunk_size, T), N = (T + C - 1) / C;
  auto qc = detail::to_chunks(q.to(acc) * scale, C);  // [B,H,N,C,K]
  auto kc = detail::to_chunks(k.to(acc), C);
  auto vc = detail::to_chunks(v.to(acc), C);                   // [B,H,N,C,V]
  auto bt = detail::to_chunks(beta.to(acc), C).unsqueeze(-1);  // [B,H,N,C,1]
  auto b = detail::to_chunks(g.to(acc), C).cumsum(-1);  // [B,H,N,C] log-decay since chunk start

  // Gamma[i,j] = exp(b_i - b_j) for j <= i; masked before exp so the
  // (positive) upper triangle never overflows.
  const auto bool_opts = torch::dtype(torch::kBool).device(q.device());
  auto causal = torch::ones({C, C}, bool_opts).tril();
  auto Gamma = (b.unsqueeze(-1) - b.unsqueeze(-2))
                   .masked_fill(causal.logical_not(), -std::numeric_limits<double>::infinity())
                   .exp();  // [B,H,N,C,C]
  auto strict = torch::ones({C, C}, bool_opts).tril(-1);
  auto A =
      (bt * torch::matmul(kc, kc.transpose(-1, -2)) * Gamma).masked_fill(strict.logical_not(), 0);

  // [W | U] = (I + A)^{-1} [beta (K . e^b) | beta V]: one unit-lower solve
  // (the diagonal of A is never read).
  auto eb = b.exp().unsqueeze(-1);  // [B,H,N,C,1]
  auto rhs = torch::cat({bt * kc * eb, bt * vc}, -1);
  auto WU = torch::linalg_solve_triangular(A, rhs, /*upper=*/false, /*left=*/true,
                                           /*unitriangular=*/true);
  auto W = WU.narrow(-1, 0, K), U = WU.narrow(-1, K, V);
  auto Aqk = torch::matmul(qc, kc.transpose(-1, -2)) * Gamma;  // causal, diagonal included

  auto bC = b.narrow(-1, C - 1, 1);                   // [B,H,N,1]
  auto k_to_end = kc * (bC - b).exp().unsqueeze(-1);  // K . e^{b_C - b}
  auto chunk_decay = bC.exp().unsqueeze(-1);          // [B,H,N,1,1]
  auto q_decayed = qc * eb;

  // Inter-chunk scan: each chunk's u depends on the state it starts from.
  auto S = initial_state.defined() ? initial_state.to(acc)
                                   : torch::zeros({B, H, K, V}, q.options().dtype(acc));
  std::vector<torch::Tensor> o;
  o.reserve(N);
  for (int64_t n = 0; n < N; ++n) {
    auto u = U.select(2, n) - torch::matmul(W.select(2, n), S);  // [B,H,C,V]
    o.push_back(torch::matmul(q_decayed.select(2, n), S) + torch::matmul(Aqk.select(2, n), u));
    S = chunk_decay.select(2, n) * S + torch::matmul(k_to_end.select(2, n).transpose(-1, -2), u);
  }
  auto out = torch::stack(o, 2).reshape({B, H, N * C, V}).narrow(2, 0, T).transpose(1, 2);
  return {out.to(q.scalar_type()), S};
}

}  // namespace scalelab::kernels
