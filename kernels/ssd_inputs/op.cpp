// Public SSD input preparation: dispatch and the autograd function around the
// CUDA kernels.
#include "kernels/ssd_inputs/op.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/ssd_inputs/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A [rows, width] view with evenly spaced rows (a copy when the batch stride
// breaks the spacing or the rows are misaligned). The spacing comes from the
// dims that vary: PyTorch calls a [B, 1, C] tensor contiguous whatever its
// middle stride, and a decode step's conv output is exactly that.
int64_t row_stride(const Tensor& t) { return t.size(1) > 1 ? t.stride(1) : t.stride(0); }

Tensor rows_of(const Tensor& t, bool vec) {
  const bool even = t.size(0) == 1 || t.size(1) == 1 || t.stride(0) == t.stride(1) * t.size(1);
  const bool ok = t.stride(2) == 1 && even &&
                  (!vec || (row_stride(t) % 8 == 0 && reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0));
  const Tensor c = ok ? t : t.clone(torch::MemoryFormat::Contiguous);
  return c.as_strided({c.size(0) * c.size(1), c.size(2)}, {row_stride(c), 1});
}

cuda::SsdArgs args_of(const Tensor& x2, const Tensor& dt2, const Tensor& bias, const Tensor& alog,
                      int64_t heads, int64_t hd, int64_t ds) {
  return {x2.size(0),        static_cast<int>(heads),  static_cast<int>(hd),
          static_cast<int>(ds), x2.stride(0),           dt2.stride(0),
          dt2.data_ptr(),    dt2.scalar_type() == torch::kBFloat16, bias.data_ptr<float>(),
          alog.data_ptr<float>()};
}

struct SsdInputsFn : torch::autograd::Function<SsdInputsFn> {
  static variable_list forward(AutogradContext* ctx, const Tensor& xbc, const Tensor& dt,
                               const Tensor& dt_bias, const Tensor& a_log, int64_t heads,
                               int64_t hd, int64_t ds) {
    c10::cuda::CUDAGuard guard(xbc.device());
    const int64_t b = xbc.size(0), t = xbc.size(1);
    auto x2 = rows_of(xbc, true), dt2 = rows_of(dt, false);
    auto bias = dt_bias.to(torch::kFloat32).contiguous(), alog = a_log.to(torch::kFloat32).contiguous();
    auto q = torch::empty({b, t, heads, ds}, xbc.options());
    auto k = torch::empty({b, t, heads, ds}, xbc.options());
    auto v = torch::empty({b, t, heads, hd}, xbc.options());
    auto g = torch::empty({b, t, heads}, xbc.options().dtype(torch::kFloat32));
    cuda::ssd_inputs_forward(args_of(x2, dt2, bias, alog, heads, hd, ds), x2.data_ptr(),
                             q.data_ptr(), k.data_ptr(), v.data_ptr(), g.data_ptr<float>(),
                             c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({x2, dt2, bias, alog});
    ctx->saved_data["shape"] = std::vector<int64_t>{b, t, heads, hd, ds};
    ctx->saved_data["dt_dtype"] = static_cast<int64_t>(dt.scalar_type());
    ctx->saved_data["p_dtype"] = static_cast<int64_t>(dt_bias.scalar_type());
    return {q, k, v, g};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const Tensor &x2 = s[0], &dt2 = s[1], &bias = s[2], &alog = s[3];
    c10::cuda::CUDAGuard guard(x2.device());
    const auto sh = ctx->saved_data["shape"].toIntVector();
    const int64_t b = sh[0], t = sh[1], heads = sh[2], hd = sh[3], ds = sh[4];
    auto opt = x2.options();
    auto grad = [&](int i, std::vector<int64_t> shape, at::ScalarType dt) {
      return grads[i].defined() ? grads[i].to(dt).contiguous() : torch::zeros(shape, opt.dtype(dt));
    };
    auto dq = grad(0, {b, t, heads, ds}, torch::kBFloat16), dk = grad(1, {b, t, heads, ds}, torch::kBFloat16);
    auto dv = grad(2, {b, t, heads, hd}, torch::kBFloat16), dg = grad(3, {b, t, heads}, torch::kFloat32);
    auto dxbc = torch::empty({b, t, heads * hd + 2 * ds}, opt);
    auto ddt = torch::empty({b, t, heads}, opt.dtype(torch::kFloat32));
    auto dalog = torch::empty({b * t, heads}, opt.dtype(torch::kFloat32));
    cuda::ssd_inputs_backward(args_of(x2, dt2, bias, alog, heads, hd, ds), x2.data_ptr(),
                              dq.data_ptr(), dk.data_ptr(), dv.data_ptr(), dg.data_ptr<float>(),
                              dxbc.data_ptr(), ddt.data_ptr<float>(), dalog.data_ptr<float>(),
                              c10::cuda::getCurrentCUDAStream().stream());
    const auto pdt = static_cast<at::ScalarType>(ctx->saved_data["p_dtype"].toInt());
    const auto dtt = static_cast<at::ScalarType>(ctx->saved_data["dt_dtype"].toInt());
    return {dxbc, ddt.to(dtt), ddt.view({b * t, heads}).sum(0).to(pdt), dalog.sum(0).to(pdt),
            Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace
#endif

SsdInputs ssd_inputs(const torch::Tensor& xbc, const torch::Tensor& dt, const torch::Tensor& dt_bias,
                     const torch::Tensor& a_log, int64_t heads, int64_t head_dim, int64_t d_state) {
  TORCH_CHECK(xbc.dim() == 3 && xbc.size(2) == heads * head_dim + 2 * d_state,
              "ssd_inputs: xbc must be [B, T, heads * head_dim + 2 d_state = ",
              heads * head_dim + 2 * d_state, "], got ", xbc.sizes());
  TORCH_CHECK(dt.dim() == 3 && dt.size(2) == heads && dt.size(0) == xbc.size(0) &&
                  dt.size(1) == xbc.size(1),
              "ssd_inputs: dt must be [B, T, ", heads, "], got ", dt.sizes());
#if defined(SCALELAB_CUDA_KERNELS)
  if (xbc.is_cuda() && xbc.scalar_type() == torch::kBFloat16 && head_dim % 8 == 0 &&
      d_state % 8 == 0 && d_state <= 2048 && heads <= 256 &&
      (dt.scalar_type() == torch::kBFloat16 || dt.scalar_type() == torch::kFloat32)) {
    auto r = SsdInputsFn::apply(xbc, dt, dt_bias, a_log, heads, head_dim, d_state);
    return {r[0], r[1], r[2], r[3]};
  }
#endif
  return ssd_inputs_reference(xbc, dt, dt_bias, a_log, heads, head_dim, d_state);
}

}  // namespace scalelab::kernels
