// CUDA dispatch of the gated delta rule: the kernels of gdn_kernels.cuh
// through a torch::autograd::Function, or the LibTorch chunked form (op.cpp)
// on the GPU for what they do not cover (head dims, fp64).
#include <c10/cuda/CUDAGuard.h>

#include "kernels/common/cuda.h"
#include "kernels/common/cuda_plan.h"
#include "kernels/common/linear_attn_impl.h"
#include "kernels/delta_rule/cuda.h"
#include "kernels/delta_rule/gdn_params.cuh"
#include "kernels/delta_rule/op.h"

namespace scalelab::kernels {

bool cuda_delta_rule_supported(int64_t head_k, int64_t head_v) {
  return cuda::head_dims_supported(head_k, head_v);
}

namespace cuda {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct GdnFunction : torch::autograd::Function<GdnFunction> {
  // q, k, v bf16 [B,T,H,*]; g, beta fp32 [B,T,H]; h0 fp32 [N,H,K,V] or empty.
  static variable_list forward(AutogradContext* ctx, const Tensor& q, const Tensor& k,
                               const Tensor& v, const Tensor& g, const Tensor& beta,
                               const Tensor& h0, double scale, std::shared_ptr<Plan> plan) {
    const c10::cuda::CUDAGuard guard(q.device());
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
    auto fopts = q.options().dtype(torch::kFloat32);
    GdnParams gp;
    gp.la = base_params(*plan, q, v, scale);
    LinearAttnParams& p = gp.la;
    auto gcum = torch::empty({B * T, H, 1}, fopts);
    launch_chunk_cumsum(g.data_ptr<float>(), gcum.data_ptr<float>(), 1, p, current_stream());
    auto o = torch::empty({B, T, H, V}, q.options());
    auto ht = torch::empty({plan->num_seqs, H, K, V}, fopts);
    auto hchunk = torch::empty({plan->num_chunks, H, K, V}, q.options());
    auto w = torch::empty({B, T, H, K}, q.options());
    auto uu = torch::empty({B, T, H, V}, q.options());
    auto vnew = torch::empty({B, T, H, V}, q.options());
    auto tinv = torch::empty({plan->num_chunks, H, kChunk, kChunk}, q.options());
    const bool has_h0 = h0.numel() > 0;
    p.q = q.data_ptr();
    p.k = k.data_ptr();
    p.v = v.data_ptr();
    p.gcum = gcum.data_ptr<float>();
    p.h0 = has_h0 ? h0.data_ptr<float>() : nullptr;
    p.o = o.data_ptr();
    p.ht = ht.data_ptr<float>();
    p.hchunk = hchunk.data_ptr();
    gp.beta = beta.data_ptr<float>();
    gp.w = w.data_ptr();
    gp.uu = uu.data_ptr();
    gp.vnew = vnew.data_ptr();
    gp.tinv = tinv.data_ptr();
    if (K == 64) launch_gdn_forward<64>(gp, current_stream());
    else launch_gdn_forward<128>(gp, current_stream());
    const bool train = q.requires_grad() || k.requires_grad() || v.requires_grad() ||
                       g.requires_grad() || beta.requires_grad() || h0.requires_grad();
    if (train) {
      // W, u, T and the chunk states are what the backward reads besides the
      // inputs (U is not needed once u is known).
      ctx->save_for_backward({q, k, v, gcum, beta, w, vnew, tinv, hchunk});
    } else {
      ctx->save_for_backward({});
    }
    ctx->set_materialize_grads(false);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["h0_defined"] = has_h0;
    save_plan(ctx, *plan);
    return {o, ht};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    TORCH_CHECK(saved.size() == 9, "gated delta rule CUDA: backward of a forward run without grad");
    const Tensor &q = saved[0], &k = saved[1], &v = saved[2], &gcum = saved[3], &beta = saved[4];
    const Tensor &w = saved[5], &vnew = saved[6], &tinv = saved[7], &hchunk = saved[8];
    const c10::cuda::CUDAGuard guard(q.device());
    const Plan plan = load_plan(ctx);
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
    auto fopts = q.options().dtype(torch::kFloat32);
    Tensor dout = grads[0].defined() ? dense(grads[0].to(torch::kBFloat16)) : torch::zeros_like(v);
    Tensor dht = grads[1].defined() ? dense(grads[1].to(torch::kFloat32)) : Tensor();
    auto dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    // K = 128: each 64-column K tile adds its share of the gate gradient into zeros.
    auto dgate = K > 64 ? torch::zeros({B * T, H, 1}, fopts) : torch::empty({B * T, H, 1}, fopts);
    auto dbeta = torch::empty({B, T, H}, fopts);
    auto dhchunk = torch::empty({plan.num_chunks, H, K, V}, q.options());
    auto dh0 = torch::empty({plan.num_seqs, H, K, V}, fopts);
    auto du_local = torch::empty({B, T, H, V}, q.options());
    auto du = torch::empty({B, T, H, V}, q.options());
    auto dk_wy = torch::empty({B, T, H, K}, fopts);
    auto db_wy = torch::empty({B, T, H}, fopts);
    GdnParams gp;
    gp.la = base_params(plan, q, v, scale);
    LinearAttnParams& p = gp.la;
    p.q = q.data_ptr();
    p.k = k.data_ptr();
    p.v = v.data_ptr();
    p.gcum = gcum.data_ptr<float>();
    p.hchunk = hchunk.data_ptr();
    p.dout = dout.data_ptr();
    p.dht = dht.defined() ? dht.data_ptr<float>() : nullptr;
    p.dhchunk = dhchunk.data_ptr();
    p.dh0 = dh0.data_ptr<float>();
    p.dq = dq.data_ptr();
    p.dk = dk.data_ptr();
    p.dv = dv.data_ptr();
    p.dgate = dgate.data_ptr<float>();
    gp.beta = beta.data_ptr<float>();
    gp.w = w.data_ptr();
    gp.vnew = vnew.data_ptr();
    gp.tinv = tinv.data_ptr();
    gp.du_local = du_local.data_ptr();
    gp.du = du.data_ptr();
    gp.dk_wy = dk_wy.data_ptr<float>();
    gp.db_wy = db_wy.data_ptr<float>();
    gp.dbeta = dbeta.data_ptr<float>();
    if (K == 64) launch_gdn_backward<64>(gp, current_stream());
    else launch_gdn_backward<128>(gp, current_stream());
    auto dg = dgate.view({B, T, H});
    Tensor dh0_out = ctx->saved_data["h0_defined"].toBool() ? dh0 : Tensor();
    return {dq, dk, dv, dg, dbeta, dh0_out, Tensor(), Tensor()};
  }
};

LinearAttnResult run_kernels(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g,
                             const Tensor& beta, const Tensor& initial_state,
                             const LinearAttnOptions& opt) {
  const double scale = detail::resolve_scale(opt.scale, q.size(3));
  auto plan = std::make_shared<Plan>(make_plan(q, opt.cu_seqlens));
  auto qb = dense(q.to(torch::kBFloat16)), kb = dense(k.to(torch::kBFloat16));
  auto vb = dense(v.to(torch::kBFloat16));
  auto gf = dense(g.to(torch::kFloat32)), bf = dense(beta.to(torch::kFloat32));
  auto h0 = initial_state.defined() ? dense(initial_state.to(torch::kFloat32))
                                    : torch::empty({0}, q.options().dtype(torch::kFloat32));
  variable_list out = GdnFunction::apply(qb, kb, vb, gf, bf, h0, scale, plan);
  LinearAttnResult r;
  r.o = out[0].to(q.scalar_type());
  if (opt.output_final_state) r.final_state = out[1];
  return r;
}

}  // namespace
}  // namespace cuda

LinearAttnResult cuda_delta_rule_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, const torch::Tensor& g,
                                         const torch::Tensor& beta,
                                         const torch::Tensor& initial_state,
                                         const LinearAttnOptions& opt) {
  detail::check_inputs("cuda_delta_rule_chunked", q, k, v, g, initial_state, false, opt);
  TORCH_CHECK(beta.defined() && beta.sizes() == g.sizes(),
              "cuda_delta_rule_chunked: beta must be [B,T,H] ", g.sizes(), ", got ",
              beta.defined() ? beta.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(beta.is_floating_point() && beta.device() == q.device(),
              "cuda_delta_rule_chunked: beta must be floating point on ", q.device());
  TORCH_CHECK(q.is_cuda(), "cuda_delta_rule_chunked: q must be a CUDA tensor, got ", q.device());
  if (cuda_delta_rule_supported(q.size(3), v.size(3)) && q.scalar_type() != torch::kFloat64)
    return cuda::run_kernels(q, k, v, g, beta, initial_state, opt);
  // The public op runs the LibTorch chunked form for what the kernels do not
  // cover (it dispatches here only when they do).
  return delta_rule_chunked(q, k, v, g, beta, initial_state, opt);
}

}  // namespace scalelab::kernels
