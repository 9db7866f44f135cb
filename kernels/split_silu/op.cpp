// Public split_silu: dispatch and the autograd function around the CUDA kernels.
#include "kernels/split_silu/op.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/split_silu/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Contiguous and 16-byte aligned, for the kernels' vector accesses.
Tensor packed(const Tensor& x) {
  auto c = x.contiguous();
  return reinterpret_cast<uintptr_t>(c.data_ptr()) % 16 == 0
             ? c
             : c.clone(torch::MemoryFormat::Contiguous);
}

cuda::SplitSiluArgs args_of(const Tensor& h, const std::vector<int64_t>& sizes) {
  cuda::SplitSiluArgs a{};
  a.n = static_cast<int>(h.size(-1));
  a.rows = h.numel() / std::max<int64_t>(a.n, 1);
  a.parts = static_cast<int>(sizes.size());
  for (int i = 0; i < a.parts; ++i) a.size[i] = static_cast<int>(sizes[i]);
  a.bf16 = h.scalar_type() == torch::kBFloat16;
  return a;
}

struct SplitSiluFn : torch::autograd::Function<SplitSiluFn> {
  static variable_list forward(AutogradContext* ctx, const Tensor& h,
                               const std::vector<int64_t>& sizes) {
    c10::cuda::CUDAGuard guard(h.device());
    auto hc = packed(h);
    auto a = args_of(hc, sizes);
    variable_list parts;
    auto shape = h.sizes().vec();
    for (int i = 0; i < a.parts; ++i) {
      shape.back() = sizes[i];
      parts.push_back(torch::empty(shape, h.options()));
      a.part[i] = parts.back().data_ptr();
    }
    cuda::split_silu_forward(a, hc.data_ptr(), c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({hc});
    ctx->saved_data["sizes"] = sizes;
    return parts;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Tensor h = ctx->get_saved_variables()[0];
    c10::cuda::CUDAGuard guard(h.device());
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    auto a = args_of(h, sizes);
    variable_list keep;  // the gradients the kernel reads, alive until it has run
    for (int i = 0; i < a.parts; ++i) {
      if (!grads[i].defined()) continue;
      keep.push_back(packed(grads[i].to(h.scalar_type())));
      a.part[i] = keep.back().data_ptr();
    }
    auto dh = torch::empty_like(h);
    cuda::split_silu_backward(a, h.data_ptr(), dh.data_ptr(),
                              c10::cuda::getCurrentCUDAStream().stream());
    return {dh, Tensor()};
  }
};

}  // namespace
#endif

std::vector<torch::Tensor> split_silu(const torch::Tensor& h, const std::vector<int64_t>& sizes) {
  int64_t total = 0;
  bool by8 = true;
  for (int64_t n : sizes) {
    TORCH_CHECK(n > 0, "split_silu: part sizes must be positive, got ", n);
    total += n;
    by8 = by8 && n % 8 == 0;
  }
  TORCH_CHECK(h.dim() >= 1 && h.size(-1) == total, "split_silu: parts of ", total,
              " columns from ", h.sizes());
#if defined(SCALELAB_CUDA_KERNELS)
  const auto dt = h.scalar_type();
  if (h.is_cuda() && (dt == torch::kBFloat16 || dt == torch::kFloat32) && by8 &&
      sizes.size() <= static_cast<size_t>(cuda::kSplitSiluMaxParts))
    return SplitSiluFn::apply(h, sizes);
#endif
  (void)by8;
  return split_silu_reference(h, sizes);
}

}  // namespace scalelab::kernels
