#include "kernels/cross_entropy/op.h"

namespace scalelab::kernels {

torch::Tensor linear_cross_entropy_reference(const torch::Tensor& h, const torch::Tensor& weight,
                                             const torch::Tensor& targets) {
  auto logits = torch::nn::functional::linear(h, weight.to(h.scalar_type()));
  const auto acc = h.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  return torch::nn::functional::cross_entropy(logits.to(acc), targets.reshape({-1}));
}

int64_t cross_entropy_chunk_rows(int64_t rows, int64_t vocab, int64_t chunk_bytes) {
  const int64_t fit = std::max<int64_t>(1, chunk_bytes / (2 * std::max<int64_t>(vocab, 1)));
  return std::max<int64_t>(1, std::min(rows, fit));
}

}  // namespace scalelab::kernels
