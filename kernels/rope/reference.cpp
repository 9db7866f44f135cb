#include "kernels/rope/op.h"

namespace scalelab::kernels {

namespace {

torch::Tensor angles(int64_t pos0, int64_t t, int64_t hd, double theta, torch::Device dev) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  // inv_freq_i = theta^(-2i/hd); angle = position * inv_freq (fp32: bf16
  // positions lose precision beyond a few hundred tokens).
  auto inv_freq = torch::pow(theta, -torch::arange(0, hd / 2, opts) * 2.0 / static_cast<double>(hd));
  auto pos = torch::arange(pos0, pos0 + t, opts);
  return torch::outer(pos, inv_freq);
}

}  // namespace

torch::Tensor apply_rope(const torch::Tensor& x, int64_t pos0, double theta) {
  const int64_t t = x.size(1), hd = x.size(3), half = hd / 2;
  auto angle = angles(pos0, t, hd, theta, x.device()).view({1, t, 1, half});
  auto cos = angle.cos(), sin = angle.sin();
  auto xf = x.to(x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  auto x1 = xf.narrow(3, 0, half), x2 = xf.narrow(3, half, half);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, 3).to(x.scalar_type());
}

Qkv rope_qkv_reference(const torch::Tensor& qkv, int64_t heads, int64_t kv_heads, int64_t pos0,
                       double theta) {
  return {apply_rope(qkv.narrow(2, 0, heads), pos0, theta),
          apply_rope(qkv.narrow(2, heads, kv_heads), pos0, theta),
          qkv.narrow(2, heads + kv_heads, kv_heads).contiguous()};
}

std::pair<torch::Tensor, torch::Tensor> rope_tables(int64_t positions, int64_t head_dim,
                                                    double theta) {
  auto a = angles(0, positions, head_dim, theta, torch::kCPU);
  return {a.cos().contiguous(), a.sin().contiguous()};
}

}  // namespace scalelab::kernels
