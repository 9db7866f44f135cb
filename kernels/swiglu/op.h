// SwiGLU's gating (Shazeer 2020, as in Llama) on the packed output of one
// fused gate|up projection:
//
//   h = [a | b]  ([..., 2F]: a = x W1^T, b = x W3^T)      y = silu(a) * b  ([..., F])
//
// One matmul for W1 and W3 and one elementwise pass instead of silu, mul and
// their backward ops. Differentiable in h. Dispatch: a fused CUDA kernel for
// CUDA tensors (fp32/bf16, F % 8 == 0), the LibTorch reference otherwise.
#pragma once

#include <torch/torch.h>

namespace scalelab::kernels {

torch::Tensor swiglu(const torch::Tensor& h);
torch::Tensor swiglu_reference(const torch::Tensor& h);

}  // namespace scalelab::kernels
