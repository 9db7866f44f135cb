// Public RoPE op: dispatch, the cached angle tables and the autograd function
// around the CUDA kernels.
#include "kernels/rope/op.h"

#if defined(SCALELAB_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <map>
#include <mutex>
#include <tuple>

#include "kernels/rope/cuda.h"
#endif

namespace scalelab::kernels {

#if defined(SCALELAB_CUDA_KERNELS)
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// cos / sin tables per (device, head dim, theta), grown to the longest
// position asked for. Training asks for the same length every step, so the
// table is made once, before any CUDA-graph capture (the warm-up steps).
std::pair<Tensor, Tensor> device_tables(torch::Device dev, int64_t positions, int64_t hd,
                                        double theta) {
  static std::mutex mu;
  static std::map<std::tuple<int, int64_t, double>, std::pair<Tensor, Tensor>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& entry = cache[{dev.index(), hd, theta}];
  if (!entry.first.defined() || entry.first.size(0) < positions) {
    const int64_t n = std::max<int64_t>(positions, 2 * (entry.first.defined() ? entry.first.size(0) : 0));
    auto [c, s] = rope_tables(std::max<int64_t>(n, 1024), hd, theta);
    entry = {c.to(dev), s.to(dev)};
  }
  return entry;
}

cuda::RopeArgs args_of(int64_t b, int64_t t, int64_t heads, int64_t kv_heads, int64_t hd,
                       int64_t pos0, const std::pair<Tensor, Tensor>& tab) {
  return {b * t, static_cast<int>(t), static_cast<int>(heads), static_cast<int>(kv_heads),
          static_cast<int>(hd), pos0, tab.first.data_ptr<float>(), tab.second.data_ptr<float>()};
}

struct RopeFn : torch::autograd::Function<RopeFn> {
  static variable_list forward(AutogradContext* ctx, const Tensor& qkv, int64_t heads,
                               int64_t kv_heads, int64_t pos0, double theta) {
    c10::cuda::CUDAGuard guard(qkv.device());
    const int64_t b = qkv.size(0), t = qkv.size(1), hd = qkv.size(3);
    auto tab = device_tables(qkv.device(), pos0 + t, hd, theta);
    auto in = qkv.contiguous();
    auto q = torch::empty({b, t, heads, hd}, qkv.options());
    auto k = torch::empty({b, t, kv_heads, hd}, qkv.options());
    auto v = torch::empty({b, t, kv_heads, hd}, qkv.options());
    cuda::rope_qkv_forward(args_of(b, t, heads, kv_heads, hd, pos0, tab), in.data_ptr(),
                           q.data_ptr(), k.data_ptr(), v.data_ptr(),
                           c10::cuda::getCurrentCUDAStream().stream());
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["kv_heads"] = kv_heads;
    ctx->saved_data["pos0"] = pos0;
    ctx->saved_data["theta"] = theta;
    ctx->saved_data["b"] = b;
    ctx->saved_data["t"] = t;
    ctx->saved_data["hd"] = hd;
    return {q, k, v};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const int64_t heads = ctx->saved_data["heads"].toInt(),
                  kv = ctx->saved_data["kv_heads"].toInt(), pos0 = ctx->saved_data["pos0"].toInt(),
                  b = ctx->saved_data["b"].toInt(), t = ctx->saved_data["t"].toInt(),
                  hd = ctx->saved_data["hd"].toInt();
    const double theta = ctx->saved_data["theta"].toDouble();
    const Tensor& any = grads[0].defined() ? grads[0] : grads[1].defined() ? grads[1] : grads[2];
    c10::cuda::CUDAGuard guard(any.device());
    auto opts = any.options().dtype(torch::kBFloat16);
    auto grad = [&](int i, int64_t nh) {
      return grads[i].defined() ? grads[i].to(torch::kBFloat16).contiguous()
                                : torch::zeros({b, t, nh, hd}, opts);
    };
    auto dq = grad(0, heads), dk = grad(1, kv), dv = grad(2, kv);
    auto tab = device_tables(any.device(), pos0 + t, hd, theta);
    auto dqkv = torch::empty({b, t, heads + 2 * kv, hd}, opts);
    cuda::rope_qkv_backward(args_of(b, t, heads, kv, hd, pos0, tab), dq.data_ptr(), dk.data_ptr(),
                            dv.data_ptr(), dqkv.data_ptr(),
                            c10::cuda::getCurrentCUDAStream().stream());
    return {dqkv, Tensor(), Tensor(), Tensor(), Tensor()};
  }
};

}  // namespace
#endif

Qkv rope_qkv(const torch::Tensor& qkv, int64_t heads, int64_t kv_heads, int64_t pos0,
             double theta) {
  TORCH_CHECK(qkv.dim() == 4 && qkv.size(2) == heads + 2 * kv_heads && qkv.size(3) % 2 == 0,
              "rope_qkv: qkv must be [B, T, heads + 2 kv_heads = ", heads + 2 * kv_heads,
              ", even head dim], got ", qkv.sizes());
#if defined(SCALELAB_CUDA_KERNELS)
  if (qkv.is_cuda() && qkv.scalar_type() == torch::kBFloat16 && qkv.size(3) % 8 == 0) {
    auto r = RopeFn::apply(qkv, heads, kv_heads, pos0, theta);
    return {r[0], r[1], r[2]};
  }
#endif
  return rope_qkv_reference(qkv, heads, kv_heads, pos0, theta);
}

}  // namespace scalelab::kernels
