// Public causal depthwise conv: dispatch and the autograd function around the
// CUDA kernels.
#include "kernels/causal_conv1d/op.h"

#include "kernels/common/optional_arg.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/causal_conv1d/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows must be 16-byte aligned for the kernels' vector accesses.
Tensor usable(const Tensor& x) {
  const bool ok = x.stride(2) == 1 && x.stride(1) % 8 == 0 && x.stride(0) % 8 == 0 &&
                  reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 == 0;
  // (clone, not contiguous(): a misaligned or oddly strided view can already
  // count as contiguous, and contiguous() would hand it back unchanged)
  return ok ? x : x.clone(torch::MemoryFormat::Contiguous);
}

cuda::ConvArgs args_of(const Tensor& x, const Tensor& w, const Tensor& b, bool silu) {
  return {static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)),
          static_cast<int>(w.size(1)), x.stride(0), x.stride(1), w.data_ptr<float>(),
          b.defined() ? b.data_ptr<float>() : nullptr, silu, x.scalar_type() == torch::kBFloat16};
}

struct CausalConvFn : torch::autograd::Function<CausalConvFn> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, bool silu) {
    c10::cuda::CUDAGuard guard(x.device());
    auto xu = usable(x);
    auto w = weight.to(torch::kFloat32).contiguous();
    auto b = detail::given(bias) ? bias.to(torch::kFloat32).contiguous() : Tensor();
    auto y = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::Contiguous));
    cuda::causal_conv1d_forward(args_of(xu, w, b, silu), xu.data_ptr(), y.data_ptr(),
                                c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({xu, w, b});
    ctx->saved_data["silu"] = silu;
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(weight.scalar_type());
    ctx->saved_data["has_bias"] = detail::given(bias);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const Tensor &x = s[0], &w = s[1], &b = s[2];
    c10::cuda::CUDAGuard guard(x.device());
    const auto a = args_of(x, w, b, ctx->saved_data["silu"].toBool());
    auto dy = grads[0].to(x.scalar_type()).contiguous();
    auto dx = torch::empty(x.sizes(), dy.options());
    const int64_t c = x.size(2), width = w.size(1);
    auto partial = torch::empty({cuda::causal_conv1d_partials(a), c, width + 1},
                                x.options().dtype(torch::kFloat32));
    cuda::causal_conv1d_backward(a, x.data_ptr(), dy.data_ptr(), dx.data_ptr(),
                                 partial.data_ptr<float>(), c10::cuda::getCurrentCUDAStream().stream());
    auto sum = partial.sum(0);  // [C, W + 1]
    const auto wdt = static_cast<at::ScalarType>(ctx->saved_data["w_dtype"].toInt());
    Tensor db = ctx->saved_data["has_bias"].toBool() ? sum.select(1, width).to(wdt) : Tensor();
    return {dx, sum.narrow(1, 0, width).to(wdt), db, Tensor()};
  }
};

}  // namespace
#endif

torch::Tensor causal_conv1d(const torch::Tensor& x, const torch::Tensor& weight,
                            const torch::Tensor& bias, bool silu) {
  TORCH_CHECK(x.dim() == 3 && weight.dim() == 2 && weight.size(0) == x.size(2),
              "causal_conv1d: x must be [B, T, C] and weight [C, W], got ", x.sizes(), " and ",
              weight.sizes());
  TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == x.size(2)),
              "causal_conv1d: bias must be [", x.size(2), "], got ", bias.sizes());
#if defined(SCALELAB_CUDA_KERNELS)
  const auto dt = x.scalar_type();
  if (x.is_cuda() && (dt == torch::kBFloat16 || dt == torch::kFloat32) && x.size(2) % 8 == 0 &&
      weight.size(1) >= 2 && weight.size(1) <= 4 && x.stride(2) == 1)
    return CausalConvFn::apply(x, weight, detail::or_empty(bias, weight), silu);
#endif
  return causal_conv1d_reference(x, weight, bias, silu);
}

}  // namespace scalelab::kernels
