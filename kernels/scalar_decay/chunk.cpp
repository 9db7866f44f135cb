#include "kernels/scalar_decay/chunk.h"

#include <limits>
#include <vector>

#include "kernels/common/linear_attn_impl.h"

namespace scalelab::kernels {

LinearAttnResult scalar_decay_chunk_torch(const torch::Tensor& q, const torch::Tensor& k,
                                          const torch::Tensor& v, const torch::Tensor& g,
                                          const torch::Tensor& initial_state, double scale,
                                          int64_t chunk_size) {
  const auto acc = detail::compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
  const int64_t C = std::min(chunk_size, T), N = (T + C - 1) / C;
  auto qc = detail::to_chunks(q.to(acc) * scale, C);  // [B,H,N,C,K]
  auto kc = detail::to_chunks(k.to(acc), C);
  auto vc = detail::to_chunks(v.to(acc), C);            // [B,H,N,C,V]
  auto b = detail::to_chunks(g.to(acc), C).cumsum(-1);  // [B,H,N,C] log-decay since chunk start

  // Intra-chunk: D[i,j] = exp(b_i - b_j) for j <= i; masked before exp so the
  // (positive) upper triangle never overflows. Every factor here is <= 1.
  auto causal = torch::ones({C, C}, torch::dtype(torch::kBool).device(q.device())).tril();
  auto D = (b.unsqueeze(-1) - b.unsqueeze(-2))
               .masked_fill(causal.logical_not(), -std::numeric_limits<double>::infinity())
               .exp();
  auto o = torch::matmul(torch::matmul(qc, kc.transpose(-1, -2)) * D, vc);

  // What each chunk adds to the state, relative to its end: sum_j exp(b_C - b_j) k_j v_j^T.
  auto bC = b.narrow(-1, C - 1, 1);                                      // [B,H,N,1]
  auto kv = torch::matmul((kc * (bC - b).exp().unsqueeze(-1)).transpose(-1, -2), vc);
  auto chunk_decay = bC.exp().unsqueeze(-1);                            // [B,H,N,1,1]

  // Inter-chunk scan: only the [K,V] states are sequential.
  auto S = initial_state.defined() ? initial_state.to(acc)
                                   : torch::zeros({B, H, K, V}, q.options().dtype(acc));
  std::vector<torch::Tensor> starts;
  starts.reserve(N);
  for (int64_t n = 0; n < N; ++n) {
    starts.push_back(S);
    S = chunk_decay.select(2, n) * S + kv.select(2, n);
  }
  auto S_start = torch::stack(starts, 2);  // [B,H,N,K,V]
  o = o + torch::matmul(qc * b.exp().unsqueeze(-1), S_start);

  o = o.reshape({B, H, N * C, V}).narrow(2, 0, T).transpose(1, 2);
  return {o.to(q.scalar_type()), S};
}

}  // namespace scalelab::kernels
