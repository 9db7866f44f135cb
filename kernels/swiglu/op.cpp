// Public SwiGLU op: dispatch and the autograd function around the CUDA kernels.
#include "kernels/swiglu/op.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/swiglu/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct SwigluFn : torch::autograd::Function<SwigluFn> {
  static Tensor forward(AutogradContext* ctx, const Tensor& h) {
    c10::cuda::CUDAGuard guard(h.device());
    auto hc = h.contiguous();
    const int64_t f = h.size(-1) / 2, rows = h.numel() / std::max<int64_t>(2 * f, 1);
    auto sizes = h.sizes().vec();
    sizes.back() = f;
    auto y = torch::empty(sizes, h.options());
    cuda::swiglu_forward(hc.data_ptr(), y.data_ptr(), rows, static_cast<int>(f),
                         h.scalar_type() == torch::kBFloat16,
                         c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({hc});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Tensor h = ctx->get_saved_variables()[0];
    c10::cuda::CUDAGuard guard(h.device());
    auto dy = grads[0].to(h.scalar_type()).contiguous();
    const int64_t f = h.size(-1) / 2, rows = h.numel() / std::max<int64_t>(2 * f, 1);
    auto dh = torch::empty_like(h);
    cuda::swiglu_backward(h.data_ptr(), dy.data_ptr(), dh.data_ptr(), rows, static_cast<int>(f),
                          h.scalar_type() == torch::kBFloat16,
                          c10::cuda::getCurrentCUDAStream().stream());
    return {dh};
  }
};

}  // namespace
#endif

torch::Tensor swiglu(const torch::Tensor& h) {
  TORCH_CHECK(h.dim() >= 1 && h.size(-1) % 2 == 0,
              "swiglu: the last dim must hold gate and up halves (even), got ", h.sizes());
#if defined(SCALELAB_CUDA_KERNELS)
  const auto dt = h.scalar_type();
  if (h.is_cuda() && (dt == torch::kBFloat16 || dt == torch::kFloat32) && (h.size(-1) / 2) % 8 == 0)
    return SwigluFn::apply(h);
#endif
  return swiglu_reference(h);
}

}  // namespace scalelab::kernels
