// Host side of the CUDA linear-attention kernels shared by both families
// (kernels/scalar_decay/cuda.h and kernels/vector_decay/cuda.h are the public
// entry points). Not part of the op API.
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels::cuda {

// True when the kernels cover these head dims: K in {64, 128}, V a multiple
// of 64 up to 256.
bool head_dims_supported(int64_t head_k, int64_t head_v);

// The chunked op on CUDA tensors through a torch::autograd::Function (vector
// gate when `vector_gate`). Inputs are cast to bf16 (q, k, v) and fp32 (g,
// initial_state) outside the Function, so gradients reach the caller's dtypes.
// Preconditions: detail::check_inputs passed and head_dims_supported(K, V).
LinearAttnResult chunked(bool vector_gate, const torch::Tensor& q, const torch::Tensor& k,
                         const torch::Tensor& v, const torch::Tensor& g,
                         const torch::Tensor& initial_state, const LinearAttnOptions& opt);

}  // namespace scalelab::kernels::cuda
