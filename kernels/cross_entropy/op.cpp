// Public fused linear + cross-entropy op: dispatch and the autograd function
// that runs the chunked head, loss and gradient in its forward.
#include "kernels/cross_entropy/op.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/cross_entropy/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct LinearCrossEntropyFn : torch::autograd::Function<LinearCrossEntropyFn> {
  static Tensor forward(AutogradContext* ctx, const Tensor& h, const Tensor& weight,
                        const Tensor& targets, int64_t chunk_bytes, bool grad) {
    // Inputs are cast here once; autocast must not recast the fp32 dW
    // accumulator of addmm below to bf16.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCUDA);
    c10::cuda::CUDAGuard guard(h.device());
    const int64_t n = h.size(0), vocab = weight.size(0), d = h.size(1);
    auto hb = h.to(torch::kBFloat16).contiguous();
    auto wb = weight.to(torch::kBFloat16).contiguous();
    auto tg = targets.to(torch::kInt64).contiguous();
    const int64_t rows = cross_entropy_chunk_rows(n, vocab, chunk_bytes);
    auto logits = torch::empty({rows, vocab}, hb.options());
    auto loss_rows = torch::empty({n}, h.options().dtype(torch::kFloat32));
    Tensor dh, dw;
    if (grad) {
      dh = torch::empty({n, d}, hb.options());
      dw = torch::zeros({vocab, d}, h.options().dtype(torch::kFloat32));
    }
    auto stream = c10::cuda::getCurrentCUDAStream().stream();
    for (int64_t r0 = 0; r0 < n; r0 += rows) {
      const int64_t c = std::min(rows, n - r0);
      auto lg = logits.narrow(0, 0, c);
      auto hc = hb.narrow(0, r0, c);
      at::mm_out(lg, hc, wb.t());
      kernels::cuda::cross_entropy_rows(lg.data_ptr(), tg.data_ptr<int64_t>() + r0,
                                        loss_rows.data_ptr<float>() + r0, c,
                                        static_cast<int>(vocab), 1.0f / static_cast<float>(n),
                                        grad, stream);
      if (grad) {
        auto dhc = dh.narrow(0, r0, c);
        at::mm_out(dhc, lg, wb);
        at::addmm_out(dw, dw, lg.t(), hc, at::kFloat);
      }
    }
    ctx->save_for_backward({dh, dw});
    ctx->saved_data["h_dtype"] = static_cast<int64_t>(h.scalar_type());
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(weight.scalar_type());
    return loss_rows.sum() / static_cast<double>(n);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    TORCH_CHECK(saved[0].defined(),
                "linear_cross_entropy: backward through a loss computed without gradients");
    const auto g = grads[0].to(torch::kFloat32);
    const auto hdt = static_cast<at::ScalarType>(ctx->saved_data["h_dtype"].toInt());
    const auto wdt = static_cast<at::ScalarType>(ctx->saved_data["w_dtype"].toInt());
    return {(saved[0] * g).to(hdt), (saved[1] * g).to(wdt), Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace
#endif

torch::Tensor linear_cross_entropy(const torch::Tensor& h, const torch::Tensor& weight,
                                   const torch::Tensor& targets, int64_t chunk_bytes) {
  TORCH_CHECK(h.dim() == 2 && weight.dim() == 2 && weight.size(1) == h.size(1),
              "linear_cross_entropy: h must be [N, D] and weight [V, D], got ", h.sizes(), " and ",
              weight.sizes());
  TORCH_CHECK(targets.numel() == h.size(0), "linear_cross_entropy: ", h.size(0),
              " rows but ", targets.numel(), " targets");
#if defined(SCALELAB_CUDA_KERNELS)
  if (h.is_cuda() && weight.size(0) % 8 == 0 && h.size(1) % 8 == 0 &&
      h.scalar_type() != torch::kFloat64 && h.size(0) > 0) {
    // Under no_grad (evaluation) the weight still requires grad: skip the
    // gradient GEMMs by what autograd will actually record.
    const bool grad =
        torch::GradMode::is_enabled() && (h.requires_grad() || weight.requires_grad());
    return LinearCrossEntropyFn::apply(h, weight, targets.reshape({-1}), chunk_bytes, grad);
  }
#endif
  return linear_cross_entropy_reference(h, weight, targets);
}

}  // namespace scalelab::kernels
