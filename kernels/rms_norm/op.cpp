// Public RMSNorm op: the CPU/GPU dispatch and, when the CUDA kernels are built,
// the autograd function around them.
#include "kernels/rms_norm/op.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/rms_norm/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool aligned16(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

struct RmsNormFn : torch::autograd::Function<RmsNormFn> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight, double eps,
                        at::ScalarType out) {
    c10::cuda::CUDAGuard guard(x.device());
    const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
    auto xc = x.contiguous();
    auto w = weight.to(torch::kFloat32).contiguous();
    auto y = torch::empty(x.sizes(), x.options().dtype(out));
    auto rstd = torch::empty({rows}, x.options().dtype(torch::kFloat32));
    cuda::rms_norm_forward({xc.data_ptr(), w.data_ptr<float>(), y.data_ptr(),
                            rstd.data_ptr<float>(), rows, static_cast<int>(d),
                            static_cast<float>(eps), x.scalar_type() == torch::kBFloat16,
                            out == torch::kBFloat16},
                           c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({xc, w, rstd});
    ctx->saved_data["weight_dtype"] = static_cast<int64_t>(weight.scalar_type());
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &w = saved[1], &rstd = saved[2];
    c10::cuda::CUDAGuard guard(x.device());
    const int64_t d = x.size(-1), rows = rstd.numel();
    auto dy = grads[0].contiguous();
    const bool y_bf16 = dy.scalar_type() == torch::kBFloat16;
    if (!y_bf16 && dy.scalar_type() != torch::kFloat32) dy = dy.to(torch::kFloat32);
    if (!aligned16(dy)) dy = dy.clone();
    auto dx = torch::empty_like(x);
    const int blocks = cuda::rms_norm_backward_blocks(rows, static_cast<int>(d));
    auto partial = torch::empty({blocks, d}, x.options().dtype(torch::kFloat32));
    cuda::rms_norm_backward({dy.data_ptr(), x.data_ptr(), w.data_ptr<float>(),
                             rstd.data_ptr<float>(), dx.data_ptr(), partial.data_ptr<float>(),
                             rows, static_cast<int>(d), x.scalar_type() == torch::kBFloat16,
                             y_bf16},
                            c10::cuda::getCurrentCUDAStream().stream());
    const auto wdt = static_cast<at::ScalarType>(ctx->saved_data["weight_dtype"].toInt());
    return {dx, partial.sum(0).to(wdt), Tensor(), Tensor()};
  }
};

bool cuda_path(const Tensor& x, const Tensor& weight, at::ScalarType out) {
  const auto dt = x.scalar_type();
  const int64_t d = x.size(-1);
  return x.is_cuda() && weight.is_cuda() && (dt == torch::kFloat32 || dt == torch::kBFloat16) &&
         (out == torch::kFloat32 || out == torch::kBFloat16) && d % 8 == 0 &&
         d <= cuda::kRmsNormMaxDim && (!x.is_contiguous() || aligned16(x));
}

}  // namespace
#endif

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                       std::optional<at::ScalarType> out) {
  TORCH_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1),
              "rms_norm: weight must be [", x.dim() >= 1 ? x.size(-1) : 0, "], got ",
              weight.sizes(), " for x ", x.sizes());
  const auto o = out.value_or(x.scalar_type());
#if defined(SCALELAB_CUDA_KERNELS)
  if (cuda_path(x, weight, o)) return RmsNormFn::apply(x, weight, eps, o);
#endif
  return rms_norm_reference(x, weight, eps, o);
}

}  // namespace scalelab::kernels
