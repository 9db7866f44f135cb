// CUDA path of scalar_decay_chunked_silu_qkv: the scalar-decay kernels read
// q, k, v straight from the packed pre-activation h and apply the SiLU as
// they load (la_params.cuh, silu_inputs); the backward writes dh, the SiLU's
// derivative folded into the dq, dk, dv stores. Saves h, not q, k, v.
#include <c10/cuda/CUDAGuard.h>

#include "kernels/common/cuda.h"
#include "kernels/common/cuda_plan.h"
#include "kernels/common/linear_attn_impl.h"
#include "kernels/scalar_decay/cuda.h"

namespace scalelab::kernels {

namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using cuda::LinearAttnParams;

// q, k, v of head width D at columns 0, HD, 2HD of h's rows.
LinearAttnParams packed_params(const cuda::Plan& plan, const Tensor& h, int64_t heads,
                               double scale) {
  const int64_t D = h.size(2) / (3 * heads);
  const auto hv = h.view({h.size(0), h.size(1), 3 * heads, D});  // base_params reads [B,T,H,D]
  LinearAttnParams p = cuda::base_params(plan, hv, hv, scale);
  p.heads = static_cast<int>(heads);
  p.head_k = p.head_v = static_cast<int>(D);
  p.silu_inputs = true;
  p.in_stride = h.size(2);
  auto* base = static_cast<at::BFloat16*>(h.data_ptr());
  p.q = base;
  p.k = base + heads * D;
  p.v = base + 2 * heads * D;
  return p;
}

struct SiluQkvFunction : torch::autograd::Function<SiluQkvFunction> {
  // h bf16 [B,T,3HD]; g fp32 [B,T,H]; h0 fp32 [N,H,D,D] or empty (zeros).
  static variable_list forward(AutogradContext* ctx, const Tensor& h, const Tensor& g,
                               const Tensor& h0, int64_t heads, double scale,
                               std::shared_ptr<cuda::Plan> plan) {
    const c10::cuda::CUDAGuard guard(h.device());
    const bool train = h.requires_grad() || g.requires_grad() || h0.requires_grad();
    LinearAttnParams p = packed_params(*plan, h, heads, scale);
    cuda::ForwardTensors f = cuda::chunked_forward<false>(p, *plan, g, h0, h.options(),
                                                          h.size(0), h.size(1), train);
    ctx->save_for_backward({h, f.gcum, f.hchunk});
    ctx->set_materialize_grads(false);
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["h0_defined"] = h0.numel() > 0;
    ctx->saved_data["g_shape"] = g.sizes().vec();
    cuda::save_plan(ctx, *plan);
    return {f.o, f.ht};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor& h = saved[0];
    const c10::cuda::CUDAGuard guard(h.device());
    const cuda::Plan plan = cuda::load_plan(ctx);
    const int64_t heads = ctx->saved_data["heads"].toInt();
    LinearAttnParams p = packed_params(plan, h, heads, ctx->saved_data["scale"].toDouble());
    const int64_t D = p.head_v;
    Tensor dout = grads[0].defined()
                      ? cuda::dense(grads[0].to(torch::kBFloat16))
                      : torch::zeros({h.size(0), h.size(1), heads, D}, h.options());
    Tensor dht = grads[1].defined() ? cuda::dense(grads[1].to(torch::kFloat32)) : Tensor();
    auto dh = torch::empty_like(h);  // every column is written: dq | dk | dv
    auto* dbase = static_cast<at::BFloat16*>(dh.data_ptr());
    p.dq = dbase;
    p.dk = dbase + heads * D;
    p.dv = dbase + 2 * heads * D;
    cuda::BackwardTensors r = cuda::chunked_backward<false>(p, plan, saved[1], saved[2], Tensor(),
                                                            dout, dht, h.size(0), h.size(1));
    auto dg = r.dgate.view(ctx->saved_data["g_shape"].toIntVector());
    Tensor dh0 = ctx->saved_data["h0_defined"].toBool() ? r.dh0 : Tensor();
    return {dh, dg, dh0, Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace

LinearAttnResult cuda_scalar_decay_silu_qkv(const torch::Tensor& h, int64_t heads,
                                            const torch::Tensor& g,
                                            const torch::Tensor& initial_state,
                                            const LinearAttnOptions& opt) {
  const int64_t D = h.size(2) / (3 * heads);
  const double scale = detail::resolve_scale(opt.scale, D);
  auto plan = std::make_shared<cuda::Plan>(cuda::make_plan(h, opt.cu_seqlens));
  auto hb = cuda::dense(h.to(torch::kBFloat16));
  auto gf = cuda::dense(g.to(torch::kFloat32));
  auto h0 = initial_state.defined() ? cuda::dense(initial_state.to(torch::kFloat32))
                                    : torch::empty({0}, h.options().dtype(torch::kFloat32));
  variable_list out = SiluQkvFunction::apply(hb, gf, h0, heads, scale, plan);
  LinearAttnResult r;
  r.o = out[0].to(h.scalar_type());
  if (opt.output_final_state) r.final_state = out[1];
  return r;
}

}  // namespace scalelab::kernels
