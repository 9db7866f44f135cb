// Public RMSNorm op: the CPU/GPU dispatch and, when the CUDA kernels are built,
// the autograd function around them.
#include "kernels/rms_norm/op.h"

#include "kernels/common/optional_arg.h"

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
    auto xc = x.contiguous();  // aligned: cuda_path() sends a misaligned contiguous x elsewhere
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

struct AddRmsNormFn : torch::autograd::Function<AddRmsNormFn> {
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& a,
                               const Tensor& weight, double eps, at::ScalarType out) {
    c10::cuda::CUDAGuard guard(x.device());
    const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
    auto xc = x.contiguous(), ac = a.contiguous();
    auto w = weight.to(torch::kFloat32).contiguous();
    auto h = torch::empty_like(xc);
    auto y = torch::empty(x.sizes(), x.options().dtype(out));
    auto rstd = torch::empty({rows}, x.options().dtype(torch::kFloat32));
    cuda::RmsNormFwd f{xc.data_ptr(), w.data_ptr<float>(), y.data_ptr(), rstd.data_ptr<float>(),
                       rows, static_cast<int>(d), static_cast<float>(eps), false,
                       out == torch::kBFloat16};
    f.a = ac.data_ptr();
    f.h = h.data_ptr<float>();
    f.a_bf16 = a.scalar_type() == torch::kBFloat16;
    cuda::rms_norm_forward(f, c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({h, w, rstd});
    ctx->saved_data["weight_dtype"] = static_cast<int64_t>(weight.scalar_type());
    ctx->saved_data["a_dtype"] = static_cast<int64_t>(a.scalar_type());
    return {h, y};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const Tensor &h = saved[0], &w = saved[1], &rstd = saved[2];
    c10::cuda::CUDAGuard guard(h.device());
    const int64_t d = h.size(-1), rows = rstd.numel();
    const auto adt = static_cast<at::ScalarType>(ctx->saved_data["a_dtype"].toInt());
    Tensor dh = grads[0].defined() ? grads[0].to(torch::kFloat32).contiguous() : Tensor();
    Tensor dy = grads[1].defined() ? grads[1].contiguous() : torch::zeros_like(h, h.options().dtype(torch::kBFloat16));
    const bool y_bf16 = dy.scalar_type() == torch::kBFloat16;
    if (!y_bf16 && dy.scalar_type() != torch::kFloat32) dy = dy.to(torch::kFloat32);
    if (!aligned16(dy)) dy = dy.clone();
    if (dh.defined() && !aligned16(dh)) dh = dh.clone();
    auto dx = torch::empty_like(h);
    auto da = torch::empty(h.sizes(), h.options().dtype(adt));
    const int blocks = cuda::rms_norm_backward_blocks(rows, static_cast<int>(d));
    auto partial = torch::empty({blocks, d}, h.options().dtype(torch::kFloat32));
    cuda::RmsNormBwd b{dy.data_ptr(), h.data_ptr(), w.data_ptr<float>(), rstd.data_ptr<float>(),
                       dx.data_ptr(), partial.data_ptr<float>(), rows, static_cast<int>(d),
                       false, y_bf16};
    b.dh = dh.defined() ? dh.data_ptr<float>() : nullptr;
    b.da = da.data_ptr();
    b.a_bf16 = adt == torch::kBFloat16;
    cuda::rms_norm_backward(b, c10::cuda::getCurrentCUDAStream().stream());
    const auto wdt = static_cast<at::ScalarType>(ctx->saved_data["weight_dtype"].toInt());
    return {dx, da, partial.sum(0).to(wdt), Tensor(), Tensor()};
  }
};

cuda::GatedNormArgs gated_args(const Tensor& x, const Tensor& g, const Tensor& v, const Tensor& D,
                               const Tensor& w, double eps, Gate gate, bool y_bf16) {
  const int64_t d = x.size(-1);
  return {x.data_ptr(), g.data_ptr(), g.stride(-2), v.defined() ? v.data_ptr() : nullptr,
          D.defined() ? D.data_ptr<float>() : nullptr, D.defined() ? static_cast<int>(D.numel()) : 1,
          w.data_ptr<float>(), x.numel() / d, static_cast<int>(d), static_cast<float>(eps),
          gate == Gate::SiluBefore, gate != Gate::SigmoidAfter, y_bf16};
}

// g keeps its row stride (Mamba2's z is a view of the input projection): a
// [rows, d] view of it, or of a dense copy when its rows are not evenly spaced.
Tensor rows_view(const Tensor& g) {
  bool ok = g.stride(-1) == 1 && aligned16(g) && g.stride(-2) % 8 == 0;
  for (int64_t i = 0; i + 2 < g.dim(); ++i) ok = ok && g.stride(i) == g.stride(i + 1) * g.size(i + 1);
  // (a clone: contiguous() hands back a [B, 1, d] view whatever its middle stride)
  if (ok) return g.as_strided({g.numel() / g.size(-1), g.size(-1)}, {g.stride(-2), 1});
  const Tensor t = g.clone(torch::MemoryFormat::Contiguous);
  return t.view({-1, t.size(-1)});
}

struct GatedNormFn : torch::autograd::Function<GatedNormFn> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& g, const Tensor& weight,
                        const Tensor& v, const Tensor& D, double eps, int64_t gate, at::ScalarType out) {
    c10::cuda::CUDAGuard guard(x.device());
    auto xc = x.contiguous(), vc = detail::given(v) ? v.contiguous() : Tensor();
    auto g2 = rows_view(g);
    auto w = weight.to(torch::kFloat32).contiguous();
    auto Df = detail::given(D) ? D.to(torch::kFloat32).contiguous() : Tensor();
    auto y = torch::empty(x.sizes(), x.options().dtype(out));
    auto rstd = torch::empty({x.numel() / x.size(-1)}, x.options().dtype(torch::kFloat32));
    cuda::gated_rms_norm_forward(gated_args(xc, g2, vc, Df, w, eps, static_cast<Gate>(gate),
                                            out == torch::kBFloat16),
                                 y.data_ptr(), rstd.data_ptr<float>(),
                                 c10::cuda::getCurrentCUDAStream().stream());
    ctx->save_for_backward({xc, g2, vc, Df, w, rstd});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["gate"] = gate;
    ctx->saved_data["g_sizes"] = g.sizes().vec();
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(weight.scalar_type());
    ctx->saved_data["D_dtype"] = static_cast<int64_t>(detail::given(D) ? D.scalar_type() : torch::kFloat32);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const Tensor &x = s[0], &g2 = s[1], &v = s[2], &D = s[3], &w = s[4], &rstd = s[5];
    c10::cuda::CUDAGuard guard(x.device());
    auto dy = grads[0].contiguous();
    const bool y_bf16 = dy.scalar_type() == torch::kBFloat16;
    if (!y_bf16 && dy.scalar_type() != torch::kFloat32) dy = dy.to(torch::kFloat32);
    const auto a = gated_args(x, g2, v, D, w, ctx->saved_data["eps"].toDouble(),
                              static_cast<Gate>(ctx->saved_data["gate"].toInt()), y_bf16);
    auto dx = torch::empty_like(x);
    auto dg = torch::empty({a.rows, a.d}, x.options());  // dense, whatever g's stride
    auto dv = v.defined() ? torch::empty_like(v) : Tensor();
    const int blocks = cuda::rms_norm_backward_blocks(a.rows, a.d);
    auto partial =
        torch::empty({blocks, v.defined() ? 2 : 1, a.d}, x.options().dtype(torch::kFloat32));
    cuda::gated_rms_norm_backward(a, dy.data_ptr(), rstd.data_ptr<float>(), dx.data_ptr(),
                                  dg.data_ptr(), dv.defined() ? dv.data_ptr() : nullptr,
                                  partial.data_ptr<float>(), c10::cuda::getCurrentCUDAStream().stream());
    auto sum = partial.sum(0);
    const auto wdt = static_cast<at::ScalarType>(ctx->saved_data["w_dtype"].toInt());
    Tensor dD;
    if (D.defined())
      dD = sum.select(0, 1).view({a.heads, a.d / a.heads}).sum(1).to(
          static_cast<at::ScalarType>(ctx->saved_data["D_dtype"].toInt()));
    auto gs = ctx->saved_data["g_sizes"].toIntVector();
    return {dx, dg.view(gs), sum.select(0, 0).to(wdt), dv, dD, Tensor(), Tensor(), Tensor()};
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

std::pair<torch::Tensor, torch::Tensor> add_rms_norm(const torch::Tensor& x, const torch::Tensor& a,
                                                     const torch::Tensor& weight, double eps,
                                                     std::optional<at::ScalarType> out) {
  TORCH_CHECK(x.sizes() == a.sizes(), "add_rms_norm: x ", x.sizes(), " and a ", a.sizes(),
              " must have one shape");
  const auto o = out.value_or(x.scalar_type());
#if defined(SCALELAB_CUDA_KERNELS)
  const auto adt = a.scalar_type();
  if (cuda_path(x, weight, o) && x.scalar_type() == torch::kFloat32 && a.is_cuda() &&
      (adt == torch::kBFloat16 || adt == torch::kFloat32)) {
    auto r = AddRmsNormFn::apply(x, a, weight, eps, o);
    return {r[0], r[1]};
  }
#endif
  auto h = x + a;
  return {h, rms_norm(h, weight, eps, o)};
}

torch::Tensor gated_rms_norm(const torch::Tensor& x, const torch::Tensor& g,
                             const torch::Tensor& weight, double eps, Gate gate,
                             const torch::Tensor& v, const torch::Tensor& D,
                             std::optional<at::ScalarType> out) {
  TORCH_CHECK(g.sizes() == x.sizes() && (!v.defined() || v.sizes() == x.sizes()),
              "gated_rms_norm: x ", x.sizes(), ", g ", g.sizes(), " and v must have one shape");
  TORCH_CHECK(v.defined() == D.defined() && (!D.defined() || x.size(-1) % D.numel() == 0),
              "gated_rms_norm: v and D go together, D's heads dividing d");
  const auto o = out.value_or(x.scalar_type());
#if defined(SCALELAB_CUDA_KERNELS)
  auto bf = [](const Tensor& t) { return !t.defined() || t.scalar_type() == torch::kBFloat16; };
  const int64_t d = x.size(-1);
  if (x.is_cuda() && bf(x) && bf(g) && bf(v) && d % 8 == 0 && d <= 4096 &&
      (o == torch::kBFloat16 || o == torch::kFloat32) &&
      (!D.defined() || (d / D.numel()) % 8 == 0))
    return GatedNormFn::apply(x, g, weight, detail::or_empty(v, x), detail::or_empty(D, weight), eps,
                              static_cast<int64_t>(gate), o);
#endif
  return gated_rms_norm_reference(x, g, weight, eps, gate, v, D, o);
}

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
