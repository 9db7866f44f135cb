#include "kernels/vector_decay/chunk.h"

#include <limits>
#include <vector>

#include "kernels/common/linear_attn_impl.h"

namespace scalelab::kernels {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Largest divisor of C that is <= 16: the sub-block size.
int64_t sub_block(int64_t C) {
  for (int64_t c = std::min<int64_t>(C, 16); c > 1; --c) {
    if (C % c == 0) return c;
  }
  return 1;
}

// Intra-chunk attention matrix A[i,j] = sum_k q_ik k_jk exp(b_ik - b_jk),
// j <= i, with q, k, b [B,H,N,C,K]. Returns [B,H,N,C,C].
torch::Tensor intra_chunk_scores(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& b, const torch::Tensor& g) {
  const int64_t C = q.size(3), K = q.size(4), c = sub_block(C), S = C / c;
  auto lead = q.sizes().slice(0, 3).vec();  // [B,H,N]
  auto blocks = [&](const torch::Tensor& x) {
    auto shape = lead;
    shape.insert(shape.end(), {S, c, K});
    return x.reshape(shape);  // [B,H,N,S,c,K]
  };
  auto qs = blocks(q), ks = blocks(k), bs = blocks(b);
  const auto bool_opts = torch::dtype(torch::kBool).device(q.device());

  // Off-diagonal sub-blocks: r_a = b just before sub-block a (exclusive cumsum).
  auto r = blocks(b - g).select(-2, 0).unsqueeze(-2);  // [B,H,N,S,1,K]
  auto q_rel = qs * (bs - r).exp();                     // [B,H,N,S,c,K], exponent <= 0
  // earlier[a, j]: step j lies in a sub-block before a.
  auto j_block = torch::arange(C, torch::dtype(torch::kLong).device(q.device())).div(c, "floor");
  auto a_idx = torch::arange(S, torch::dtype(torch::kLong).device(q.device()));
  auto earlier = j_block.unsqueeze(0) < a_idx.unsqueeze(1);  // [S,C]
  auto k_rel = k.unsqueeze(3) * (r - b.unsqueeze(3))
                                    .masked_fill(earlier.logical_not().unsqueeze(-1), kNegInf)
                                    .exp();                // [B,H,N,S,C,K]
  auto A = torch::matmul(q_rel, k_rel.transpose(-1, -2));  // [B,H,N,S,c,C]

  // Diagonal sub-blocks: the exact decay tensor, masked before exp.
  auto causal = torch::ones({c, c}, bool_opts).tril().unsqueeze(-1);  // [c,c,1]
  auto D = (bs.unsqueeze(-2) - bs.unsqueeze(-3)).masked_fill(causal.logical_not(), kNegInf).exp();
  auto A_diag = (qs.unsqueeze(-2) * ks.unsqueeze(-3) * D).sum(-1);  // [B,H,N,S,c,c]
  // Place sub-block a's diagonal at columns [a c, (a+1) c) of row block a.
  auto eye = torch::eye(S, q.options()).view({S, 1, S, 1});
  auto shape = lead;
  shape.insert(shape.end(), {S, c, C});
  A = A + (A_diag.unsqueeze(-2) * eye).reshape(shape);
  shape = lead;
  shape.insert(shape.end(), {C, C});
  return A.reshape(shape);
}

}  // namespace

LinearAttnResult vector_decay_chunk_torch(const torch::Tensor& q, const torch::Tensor& k,
                                          const torch::Tensor& v, const torch::Tensor& g,
                                          const torch::Tensor& initial_state, double scale,
                                          int64_t chunk_size) {
  const auto acc = detail::compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
  // A sequence shorter than the chunk gets one chunk padded to a multiple of
  // 16, so that a prime T does not degrade the sub-blocks to single steps.
  const int64_t C = std::min(chunk_size, (T + 15) / 16 * 16), N = (T + C - 1) / C;
  auto qc = detail::to_chunks(q.to(acc) * scale, C);  // [B,H,N,C,K]
  auto kc = detail::to_chunks(k.to(acc), C);
  auto vc = detail::to_chunks(v.to(acc), C);  // [B,H,N,C,V]
  auto gc = detail::to_chunks(g.to(acc), C);  // [B,H,N,C,K]
  auto b = gc.cumsum(-2);                     // log-decay since the chunk start

  auto o = torch::matmul(intra_chunk_scores(qc, kc, b, gc), vc);

  // What each chunk adds to the state, relative to its end.
  auto bC = b.narrow(-2, C - 1, 1);                                       // [B,H,N,1,K]
  auto kv = torch::matmul((kc * (bC - b).exp()).transpose(-1, -2), vc);  // [B,H,N,K,V]
  auto chunk_decay = bC.exp().transpose(-1, -2);                          // [B,H,N,K,1]

  auto S = initial_state.defined() ? initial_state.to(acc)
                                   : torch::zeros({B, H, K, V}, q.options().dtype(acc));
  std::vector<torch::Tensor> starts;
  starts.reserve(N);
  for (int64_t n = 0; n < N; ++n) {
    starts.push_back(S);
    S = chunk_decay.select(2, n) * S + kv.select(2, n);
  }
  o = o + torch::matmul(qc * b.exp(), torch::stack(starts, 2));

  o = o.reshape({B, H, N * C, V}).narrow(2, 0, T).transpose(1, 2);
  return {o.to(q.scalar_type()), S};
}

}  // namespace scalelab::kernels
