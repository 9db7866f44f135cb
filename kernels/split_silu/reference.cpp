#include "kernels/split_silu/op.h"

namespace scalelab::kernels {

std::vector<torch::Tensor> split_silu_reference(const torch::Tensor& h,
                                                const std::vector<int64_t>& sizes) {
  return torch::silu(h).split_with_sizes(sizes, -1);
}

}  // namespace scalelab::kernels
