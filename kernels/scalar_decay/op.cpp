// Public scalar-decay ops: checks, packed sequences, and the CPU/GPU dispatch.
#include "kernels/scalar_decay/op.h"

#include "kernels/common/linear_attn_impl.h"
#include "kernels/scalar_decay/chunk.h"
#include "kernels/scalar_decay/reference.h"
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
