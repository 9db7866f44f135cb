#include "kernels/causal_conv1d/op.h"

namespace scalelab::kernels {

torch::Tensor causal_conv1d_reference(const torch::Tensor& x, const torch::Tensor& weight,
                                      const torch::Tensor& bias, bool silu) {
  const int64_t c = x.size(2), w = weight.size(1);
  auto u = x.transpose(1, 2);  // [B, C, T]
  auto padded = torch::constant_pad_nd(u, {w - 1, 0});
  // Explicit int64 lists: a bare 0 also converts to conv1d's string padding overload.
  const std::vector<int64_t> one{1}, zero{0};
  auto wt = weight.to(x.scalar_type()).unsqueeze(1);  // [C, 1, W]
  auto b = bias.defined() ? std::optional<torch::Tensor>(bias.to(x.scalar_type())) : std::nullopt;
  auto y = torch::conv1d(padded, wt, b, one, zero, one, c);
  if (silu) y = torch::silu(y);
  return y.transpose(1, 2).contiguous();
}

}  // namespace scalelab::kernels
