// torch::autograd::Function::apply reads the device and dtype of every tensor
// argument, so an optional tensor (a bias, a lower bound, a skip) cannot be
// passed undefined: it travels as an empty tensor and is read back with given().
#pragma once

#include <torch/torch.h>

namespace scalelab::kernels::detail {

inline torch::Tensor or_empty(const torch::Tensor& t, const torch::Tensor& like) {
  return t.defined() ? t : torch::empty({0}, like.options());
}
inline bool given(const torch::Tensor& t) { return t.defined() && t.numel() > 0; }

}  // namespace scalelab::kernels::detail
