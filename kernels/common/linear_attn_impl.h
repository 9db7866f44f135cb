// Helpers shared by the LibTorch forms of both linear-attention families:
// argument checks, the compute dtype, the default scale, and the packed
// variable-length (cu_seqlens) driver. Not part of the public op API.
#pragma once

#include <functional>

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels::detail {

// fp64 inputs are computed in fp64 (the tests' ground truth); every other
// floating dtype (fp32, bf16, fp16) accumulates in fp32.
torch::ScalarType compute_dtype(const torch::Tensor& q);

// scale <= 0 means K^-0.5 (LinearAttnOptions::scale).
double resolve_scale(double scale, int64_t head_dim_k);

// Checks shapes, dtypes, devices and cu_seqlens; throws c10::Error naming the
// argument. g is [B,T,H] when vector_gate is false, [B,T,H,K] otherwise.
void check_inputs(const char* op, const torch::Tensor& q, const torch::Tensor& k,
                  const torch::Tensor& v, const torch::Tensor& g,
                  const torch::Tensor& initial_state, bool vector_gate,
                  const LinearAttnOptions& opt);

// One packed sequence (or one batch): q,k [B,T,H,K], v [B,T,H,V], g, and the
// initial state [B,H,K,V] (undefined = zeros) -> output and final state.
using SequenceFn = std::function<LinearAttnResult(
    const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& g, const torch::Tensor& initial_state)>;

// Runs FN on the whole batch, or on each sequence of opt.cu_seqlens in turn
// (B == 1; state i starts from initial_state[i]), and applies the output
// contract: o in q's dtype, final state in the compute dtype or undefined
// when !opt.output_final_state. Handles T == 0 (no call to FN).
LinearAttnResult run_sequences(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& g,
                               const torch::Tensor& initial_state,
                               const LinearAttnOptions& opt, const SequenceFn& fn);

// [B,T,H,...] -> [B,H,N,C,...] with N = ceil(T / C), zero-padded to N*C
// steps. Zero padding is exact for both families: padded k and v add nothing
// to the state, and g = 0 does not decay it.
torch::Tensor to_chunks(const torch::Tensor& x, int64_t C);

}  // namespace scalelab::kernels::detail
