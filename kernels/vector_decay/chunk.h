// Chunked vector-decay (gated) linear attention in LibTorch, as GLA's chunk
// form (fla/ops/gla/chunk.py): within a chunk of C steps the masked form
// sum_k q_ik k_jk exp(b_ik - b_jk) with b the log-decay since the chunk start;
// across chunks the running [K,V] state, updated right product first.
//
// Stability: the gate is folded into q and k so that no exponent is ever
// positive (every factor <= 1, whatever g and C are, in fp32 as in fp64).
// fla's naive chunk folds q.exp(b), k.exp(-b), which overflows fp32 once
// -b > 88 (g = -5 over 18 steps). Here the chunk is cut into sub-blocks of
// c <= 16 steps: a pair of sub-blocks (a > a') is folded relative to the
// log-decay r_a at the start of sub-block a, q.exp(b - r_a) and
// k.exp(r_a - b), both <= 1; a diagonal sub-block uses the exact [c,c,K]
// decay tensor. Memory: O(T K (C/c + c)) extra, for C up to a few hundred.
//
// Shapes and dtypes as in reference.h. No cu_seqlens (op.cpp splits).
#pragma once

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels {

LinearAttnResult vector_decay_chunk_torch(const torch::Tensor& q, const torch::Tensor& k,
                                          const torch::Tensor& v, const torch::Tensor& g,
                                          const torch::Tensor& initial_state, double scale,
                                          int64_t chunk_size);

}  // namespace scalelab::kernels
