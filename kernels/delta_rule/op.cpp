// Public delta-rule ops: checks, packed sequences, autograd and the CPU/GPU
// dispatch.
#include "kernels/delta_rule/op.h"

#include "kernels/common/linear_attn_impl.h"
#include "kernels/common/recompute.h"
#include "kernels/delta_rule/chunk.h"
#include "kernels/delta_rule/reference.h"
#if defined(SCALELAB_CUDA_KERNELS)
#include "kernels/delta_rule/cuda.h"
#endif

namespace scalelab::kernels {

namespace {

// The shared drivers (packed sequences, recompute-in-backward) carry one
// per-step tensor besides q, k, v; they only slice it along time, so g and
// beta travel together as gb [B,T,H,2].
torch::Tensor pack(const torch::Tensor& g, const torch::Tensor& beta) {
  return torch::stack({g, beta.to(g.scalar_type())}, -1);
}

LinearAttnResult chunk_packed(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& gb,
                              const torch::Tensor& h0, double scale, int64_t chunk) {
  return delta_rule_chunk_torch(q, k, v, gb.select(-1, 0), gb.select(-1, 1), h0, scale, chunk);
}

void check_beta(const char* op, const torch::Tensor& g, const torch::Tensor& beta) {
  TORCH_CHECK(beta.defined() && beta.sizes() == g.sizes(), op, ": beta must be [B,T,H] ", g.sizes(),
              ", got ", beta.defined() ? beta.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(beta.is_floating_point() && beta.device() == g.device(), op,
              ": beta must be floating point on ", g.device());
}

}  // namespace

LinearAttnResult delta_rule_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, const torch::Tensor& g,
                                    const torch::Tensor& beta, const torch::Tensor& initial_state,
                                    const LinearAttnOptions& opt) {
  // CUDA tensors the kernels cover (K in {64, 128}, V % 64 == 0, V <= 256,
  // not fp64) run them; everything else the LibTorch chunked form below, on
  // any device.
#if defined(SCALELAB_CUDA_KERNELS)
  if (q.is_cuda() && q.scalar_type() != torch::kFloat64 && q.dim() == 4 && v.dim() == 4 &&
      cuda_delta_rule_supported(q.size(3), v.size(3)))
    return cuda_delta_rule_chunked(q, k, v, g, beta, initial_state, opt);
#endif
  detail::check_inputs("delta_rule_chunked", q, k, v, g, initial_state, false, opt);
  check_beta("delta_rule_chunked", g, beta);
  const double scale = detail::resolve_scale(opt.scale, q.size(3));
  const int64_t chunk = opt.chunk_size;
  return detail::run_sequences(
      q, k, v, pack(g, beta), initial_state, opt,
      [&](const auto& q1, const auto& k1, const auto& v1, const auto& gb1, const auto& h0) {
        // The solves, Gamma and W/U are several times the inputs: keep only
        // the inputs for backward (common/recompute.h).
        return detail::recompute_in_backward<&chunk_packed>(q1, k1, v1, gb1, h0, scale, chunk);
      });
}

LinearAttnResult delta_rule_recurrent(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& g,
                                      const torch::Tensor& beta, const torch::Tensor& initial_state,
                                      const LinearAttnOptions& opt) {
  detail::check_inputs("delta_rule_recurrent", q, k, v, g, initial_state, false, opt);
  check_beta("delta_rule_recurrent", g, beta);
  const double scale = detail::resolve_scale(opt.scale, q.size(3));
  return detail::run_sequences(
      q, k, v, pack(g, beta), initial_state, opt,
      [&](const auto& q1, const auto& k1, const auto& v1, const auto& gb1, const auto& h0) {
        return delta_rule_reference_recurrent(q1, k1, v1, gb1.select(-1, 0), gb1.select(-1, 1), h0,
                                              scale);
      });
}

LinearAttnResult delta_rule_step(const torch::Tensor& q_t, const torch::Tensor& k_t,
                                 const torch::Tensor& v_t, const torch::Tensor& g_t,
                                 const torch::Tensor& beta_t, const torch::Tensor& state,
                                 double scale) {
  TORCH_CHECK(q_t.dim() == 3, "delta_rule_step: q_t must be [B,H,K], got ", q_t.sizes());
  const int64_t B = q_t.size(0), H = q_t.size(1), K = q_t.size(2);
  TORCH_CHECK(k_t.sizes() == q_t.sizes(), "delta_rule_step: k_t must match q_t ", q_t.sizes(),
              ", got ", k_t.sizes());
  TORCH_CHECK(v_t.dim() == 3 && v_t.size(0) == B && v_t.size(1) == H,
              "delta_rule_step: v_t must be [B,H,V] = [", B, ",", H, ",V], got ", v_t.sizes());
  const int64_t V = v_t.size(2);
  for (const auto* t : {&g_t, &beta_t}) {
    TORCH_CHECK(t->dim() == 2 && t->size(0) == B && t->size(1) == H,
                "delta_rule_step: g_t and beta_t must be [B,H] = [", B, ",", H, "], got ",
                t->sizes());
  }
  TORCH_CHECK(!state.defined() || state.sizes() == torch::IntArrayRef({B, H, K, V}),
              "delta_rule_step: state must be [B,H,K,V] = [", B, ",", H, ",", K, ",", V, "], got ",
              state.sizes());
  const auto acc = detail::compute_dtype(q_t);
  auto S = state.defined() ? state.to(acc) : torch::zeros({B, H, K, V}, q_t.options().dtype(acc));
  auto k = k_t.to(acc);
  S = g_t.to(acc).exp().view({B, H, 1, 1}) * S;
  auto predicted = torch::matmul(k.unsqueeze(-2), S).squeeze(-2);  // S^T k [B,H,V]
  auto u = beta_t.to(acc).unsqueeze(-1) * (v_t.to(acc) - predicted);
  S = S + k.unsqueeze(-1) * u.unsqueeze(-2);
  auto q = q_t.to(acc) * detail::resolve_scale(scale, K);
  auto o = torch::matmul(q.unsqueeze(-2), S).squeeze(-2);  // [B,H,V]
  return {o.to(q_t.scalar_type()), S};
}

}  // namespace scalelab::kernels
