// Public scalar-decay ops: checks, packed sequences, and the CPU/GPU dispatch.
#include "kernels/scalar_decay/op.h"

#include "kernels/common/linear_attn_impl.h"
#include "kernels/scalar_decay/chunk.h"
#include "kernels/scalar_decay/reference.h"
#include "kernels/split_silu/op.h"
#if defined(SCALELAB_CUDA_KERNELS)
#include "kernels/scalar_decay/cuda.h"
#endif

namespace scalelab::kernels {

LinearAttnResult scalar_decay_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& g,
                                      const torch::Tensor& initial_state,
                                      const LinearAttnOptions& opt) {
#if defined(SCALELAB_CUDA_KERNELS)
  if (q.is_cuda()) return cuda_scalar_decay_chunked(q, k, v, g, initial_state, opt);
#endif
  detail::check_inputs("scalar_decay_chunked", q, k, v, g, initial_state, false, opt);
  const double scale = detail::resolve_scale(opt.scale, q.size(3));
  const int64_t chunk = opt.chunk_size;
  return detail::run_sequences(
      q, k, v, g, initial_state, opt,
      [&](const auto& q1, const auto& k1, const auto& v1, const auto& g1, const auto& h0) {
        return scalar_decay_chunk_torch(q1, k1, v1, g1, h0, scale, chunk);
      });
}

LinearAttnResult scalar_decay_chunked_silu_qkv(const torch::Tensor& h, int64_t heads,
                                               const torch::Tensor& g,
                                               const torch::Tensor& initial_state,
                                               const LinearAttnOptions& opt) {
  TORCH_CHECK(h.dim() == 3, "scalar_decay_chunked_silu_qkv: h must be [B,T,3HD], got ", h.sizes());
  TORCH_CHECK(heads > 0 && h.size(2) % (3 * heads) == 0,
              "scalar_decay_chunked_silu_qkv: h's last dim ", h.size(2),
              " is not 3 * heads * D for heads = ", heads);
  const int64_t B = h.size(0), T = h.size(1), HD = h.size(2) / 3, D = HD / heads;
  auto part = [&](const torch::Tensor& x) { return x.view({B, T, heads, D}); };
#if defined(SCALELAB_CUDA_KERNELS)
  if (h.is_cuda() && h.scalar_type() != torch::kFloat64 && cuda_scalar_decay_supported(D, D)) {
    auto q = part(h.narrow(2, 0, HD)), k = part(h.narrow(2, HD, HD));
    detail::check_inputs("scalar_decay_chunked_silu_qkv", q, k, part(h.narrow(2, 2 * HD, HD)), g,
                         initial_state, false, opt);
    return cuda_scalar_decay_silu_qkv(h, heads, g, initial_state, opt);
  }
#endif
  auto qkv = split_silu(h, {HD, HD, HD});
  return scalar_decay_chunked(part(qkv[0]), part(qkv[1]), part(qkv[2]), g, initial_state, opt);
}

LinearAttnResult scalar_decay_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& g,
                                        const torch::Tensor& initial_state,
                                        const LinearAttnOptions& opt) {
  detail::check_inputs("scalar_decay_recurrent", q, k, v, g, initial_state, false, opt);
  const double scale = detail::resolve_scale(opt.scale, q.size(3));
  return detail::run_sequences(
      q, k, v, g, initial_state, opt,
      [&](const auto& q1, const auto& k1, const auto& v1, const auto& g1, const auto& h0) {
        return scalar_decay_reference_recurrent(q1, k1, v1, g1, h0, scale);
      });
}

LinearAttnResult scalar_decay_step(const torch::Tensor& q_t, const torch::Tensor& k_t,
                                   const torch::Tensor& v_t, const torch::Tensor& g_t,
                                   const torch::Tensor& state, double scale) {
  TORCH_CHECK(q_t.dim() == 3, "scalar_decay_step: q_t must be [B,H,K], got ", q_t.sizes());
  const int64_t B = q_t.size(0), H = q_t.size(1), K = q_t.size(2);
  TORCH_CHECK(k_t.sizes() == q_t.sizes(), "scalar_decay_step: k_t must match q_t ",
              q_t.sizes(), ", got ", k_t.sizes());
  TORCH_CHECK(v_t.dim() == 3 && v_t.size(0) == B && v_t.size(1) == H,
              "scalar_decay_step: v_t must be [B,H,V] = [", B, ",", H, ",V], got ", v_t.sizes());
  const int64_t V = v_t.size(2);
  TORCH_CHECK(g_t.dim() == 2 && g_t.size(0) == B && g_t.size(1) == H,
              "scalar_decay_step: g_t must be [B,H] = [", B, ",", H, "], got ", g_t.sizes());
  TORCH_CHECK(!state.defined() || state.sizes() == torch::IntArrayRef({B, H, K, V}),
              "scalar_decay_step: state must be [B,H,K,V] = [", B, ",", H, ",", K, ",", V,
              "], got ", state.sizes());
  const auto acc = detail::compute_dtype(q_t);
  auto S = state.defined() ? state.to(acc) : torch::zeros({B, H, K, V}, q_t.options().dtype(acc));
  S = g_t.to(acc).exp().view({B, H, 1, 1}) * S +
      k_t.to(acc).unsqueeze(-1) * v_t.to(acc).unsqueeze(-2);
  auto q = q_t.to(acc) * detail::resolve_scale(scale, K);
  auto o = torch::matmul(q.unsqueeze(-2), S).squeeze(-2);  // [B,H,V]
  return {o.to(q_t.scalar_type()), S};
}

}  // namespace scalelab::kernels
