#include "kernels/swiglu/op.h"

namespace scalelab::kernels {

torch::Tensor swiglu_reference(const torch::Tensor& h) {
  const int64_t f = h.size(-1) / 2;
  return torch::silu(h.narrow(-1, 0, f)) * h.narrow(-1, f, f);
}

}  // namespace scalelab::kernels
