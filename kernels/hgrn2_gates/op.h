// HGRN2's gates (Qin et al. 2024) from one packed projection, as
// vector-decay linear attention inputs (kernels/vector_decay):
//
//   h = [q~ | f~ | i]  ([..., 3 d]),  s = sigmoid(f~),  f = lb + (1 - lb) s
//   q = silu(q~),  g = log f,  k = 1 - f = (1 - lb)(1 - s),  v = i
//
// lb [d] is the layer's lower bound (undefined for the first HGRN2 layer: then
// g = log sigmoid(f~) and k = sigmoid(-f~), exact where s rounds to 0 or 1).
// Returns q, k, v in h's dtype and g in fp32, each [..., d] contiguous.
// Differentiable in h and lb. Dispatch: one CUDA kernel each way for bf16 h
// on a GPU (d % 8 == 0), the LibTorch reference otherwise.
#pragma once

#include <torch/torch.h>

namespace scalelab::kernels {

struct Hgrn2Gates {
  torch::Tensor q, k, v, g;
};

Hgrn2Gates hgrn2_gates(const torch::Tensor& h, const torch::Tensor& lower_bound);
Hgrn2Gates hgrn2_gates_reference(const torch::Tensor& h, const torch::Tensor& lower_bound);

}  // namespace scalelab::kernels
