// Chunked scalar-decay linear attention in LibTorch (Lightning Attention-2's
// block form): within a chunk of C steps the masked quadratic form
// (Q K^T . D) V; across chunks the running [K,V] state, updated right product
// first (K^T V, never Q K^T over the whole sequence). O(T C K + T K V).
// Differentiable through LibTorch ops; runs on any device.
//
// Shapes and dtypes as in reference.h. chunk_size >= 1; T need not be a
// multiple of it. No cu_seqlens (op.cpp splits packed sequences).
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult scalar_decay_chunk_torch(const torch::Tensor& q, const torch::Tensor& k,
                                          const torch::Tensor& v, const torch::Tensor& g,
                                          const torch::Tensor& initial_state, double scale,
                                          int64_t chunk_size);

}  // namespace scalelab::kernels
