// Public HGRN2 gates: dispatch and the autograd function around the kernels.
#include "kernels/hgrn2_gates/op.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/hgrn2_gates/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Hgrn2GatesFn : torch::autograd::Function<Hgrn2GatesFn> {
  static variable_list forward(AutogradContext* ctx, const Tensor& h, const Tensor& lower_bound) {
    c10::cuda::CUDAGuard guard(h.device());
    auto hc = h.contiguous();
    const int64_t d = h.size(-1) / 3, rows = h.numel() / (3 * d);
    auto lb = lower_bound.defined() ? lower_bound.to(torch::kFloat32).contiguous() : Tensor();
    auto sizes = h.sizes().vec();
    sizes.back() = d;
    auto q = torch::empty(sizes, h.options()), k = torch::empty(sizes, h.options()),
         v = torch::empty(sizes, h.options());
    auto g = torch::empty(sizes, h.options().dtype(torch::kFloat32));
    cuda::hgrn2_gates_forward(hc.data_ptr(), lb.defined() ? lb.data_ptr<float>() : nullptr,
                              q.data_ptr(), k.data_ptr(), v.data_ptr(), g.data_ptr<float>(), rows,
                              static_cast<int>(d), c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({hc, lb});
    ctx->saved_data["lb_dtype"] =
        static_cast<int64_t>(lower_bound.defined() ? lower_bound.scalar_type() : torch::kFloat32);
    return {q, k, v, g};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const Tensor &h = s[0], &lb = s[1];
    c10::cuda::CUDAGuard guard(h.device());
    const int64_t d = h.size(-1) / 3, rows = h.numel() / (3 * d);
    auto sizes = h.sizes().vec();
    sizes.back() = d;
    auto grad = [&](int i, at::ScalarType dt) {
      return grads[i].defined() ? grads[i].to(dt).contiguous()
                                : torch::zeros(sizes, h.options().dtype(dt));
    };
    auto dq = grad(0, torch::kBFloat16), dk = grad(1, torch::kBFloat16),
         dv = grad(2, torch::kBFloat16), dg = grad(3, torch::kFloat32);
    auto dh = torch::empty_like(h);
    Tensor partial;
    if (lb.defined())
      partial = torch::empty({cuda::hgrn2_gates_partials(rows), d}, h.options().dtype(torch::kFloat32));
    cuda::hgrn2_gates_backward(h.data_ptr(), lb.defined() ? lb.data_ptr<float>() : nullptr,
                               dq.data_ptr(), dk.data_ptr(), dv.data_ptr(), dg.data_ptr<float>(),
                               dh.data_ptr(), partial.defined() ? partial.data_ptr<float>() : nullptr,
                               rows, static_cast<int>(d), c10::cuda::getCurrentCUDAStream().stream());
    const auto ldt = static_cast<at::ScalarType>(ctx->saved_data["lb_dtype"].toInt());
    return {dh, partial.defined() ? partial.sum(0).to(ldt) : Tensor()};
  }
};

}  // namespace
#endif

Hgrn2Gates hgrn2_gates(const torch::Tensor& h, const torch::Tensor& lower_bound) {
  TORCH_CHECK(h.dim() >= 1 && h.size(-1) % 3 == 0, "hgrn2_gates: h must be [..., 3 d], got ",
              h.sizes());
  const int64_t d = h.size(-1) / 3;
  TORCH_CHECK(!lower_bound.defined() || lower_bound.numel() == d,
              "hgrn2_gates: the lower bound must have ", d, " values, got ", lower_bound.sizes());
#if defined(SCALELAB_CUDA_KERNELS)
  if (h.is_cuda() && h.scalar_type() == torch::kBFloat16 && d % 8 == 0) {
    auto r = Hgrn2GatesFn::apply(h, lower_bound.defined() ? lower_bound.reshape({-1}) : lower_bound);
    return {r[0], r[1], r[2], r[3]};
  }
#endif
  return hgrn2_gates_reference(h, lower_bound.defined() ? lower_bound.reshape({-1}) : lower_bound);
}

}  // namespace scalelab::kernels
