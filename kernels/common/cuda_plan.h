// Host helpers shared by the autograd Functions of the CUDA linear-attention
// kernels (common/cuda_linear_attn.cpp, delta_rule/cuda_delta_rule.cpp): the
// sequence/chunk plan of one call, its round trip through an autograd
// context, and argument preparation. Not part of the op API.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "kernels/common/la_params.cuh"

namespace scalelab::kernels::cuda {

// Sequences and chunks of one call. Uniform batches need no device tables;
// packed sequences carry cu_seqlens, chunk offsets and chunk->sequence maps.
struct Plan {
  int64_t num_seqs = 0, num_chunks = 0, seq_len = 0;
  torch::Tensor cu, chunk_offsets, chunk_seq;  // int32 on the device (varlen only)
  std::vector<int64_t> bos, eos;               // host copies (varlen only)
};

Plan make_plan(const torch::Tensor& q, const std::optional<torch::Tensor>& cu_seqlens);
void save_plan(torch::autograd::AutogradContext* ctx, const Plan& plan);
Plan load_plan(torch::autograd::AutogradContext* ctx);

// Contiguous, and 16-byte aligned for the kernels' vector loads.
torch::Tensor dense(const torch::Tensor& t);

// Sequences, heads, head dims and scale; the tensor pointers are the caller's.
LinearAttnParams base_params(const Plan& plan, const torch::Tensor& q, const torch::Tensor& v,
                             double scale);

void* current_stream();

// One chunked forward (kVec: vector decay) from P's q, k, v pointers (and
// their in_stride / silu_inputs): g fp32 [B,T,H(,K)], h0 fp32 [N,H,K,V] or
// empty. hchunk and achunk are kept only when `train`.
struct ForwardTensors {
  torch::Tensor o, ht, gcum, hchunk, achunk;
};
template <bool kVec>
ForwardTensors chunked_forward(LinearAttnParams p, const Plan& plan, const torch::Tensor& g,
                               const torch::Tensor& h0, const torch::TensorOptions& bf16,
                               int64_t B, int64_t T, bool train);

// Its backward: P has q, k, v and dq, dk, dv set; dout bf16 dense, dht fp32
// or undefined. dgate is the final gate gradient [B*T, H, gk].
struct BackwardTensors {
  torch::Tensor dgate, dh0;
};
template <bool kVec>
BackwardTensors chunked_backward(LinearAttnParams p, const Plan& plan, const torch::Tensor& gcum,
                                 const torch::Tensor& hchunk, const torch::Tensor& achunk,
                                 const torch::Tensor& dout, const torch::Tensor& dht, int64_t B,
                                 int64_t T);

}  // namespace scalelab::kernels::cuda
