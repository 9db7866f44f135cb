// Host/device contract of the chunked linear-attention CUDA kernels (both
// families), in the style of mamba's selective_scan: the host fills one Params
// struct after checking every shape, dtype and stride, and calls a launcher
// instantiated in one small .cu file per (family, head dim).
//
// Layout: every token tensor is the contiguous [Ttot, H, D] view of the
// caller's [B, T, H, D] (Ttot = B*T, or the packed length with cu_seqlens).
// Sequence n covers rows [bos_n, eos_n); chunks of kChunk rows start at bos_n,
// the last one may be partial (masked inside the kernels, never padded in
// memory). Global chunk index = chunk_offsets[n] + chunk-in-sequence.
//
// The gate enters as the chunk-local cumulative log decay gcum (fp32,
// [Ttot, H, GK], GK = 1 for scalar decay, K for vector decay), so
// gcum[t] - gcum[s] <= 0 for s <= t in one chunk and every exp() is <= 1.
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

inline constexpr int kChunk = 64;  // rows per chunk; one WMMA m-tile of 16 x 4

struct LinearAttnParams {
  // Inputs (bf16 as raw 16-bit, fp32 for gates and states).
  const void* q = nullptr;       // [Ttot, H, K] bf16
  const void* k = nullptr;       // [Ttot, H, K] bf16
  const void* v = nullptr;       // [Ttot, H, V] bf16
  const float* gcum = nullptr;   // [Ttot, H, GK] chunk-local cumsum of g
  const float* h0 = nullptr;     // [N, H, K, V] or null (zeros)
  // Forward outputs.
  void* o = nullptr;             // [Ttot, H, V] bf16
  float* ht = nullptr;           // [N, H, K, V] or null
  // Per-chunk states are bf16 (raw 16-bit): every reader rounds them to bf16
  // for the tensor cores anyway, and they are the largest tensors moved.
  void* hchunk = nullptr;        // [NC, H, K, V] bf16 state entering each chunk
  // Vector decay workspace (vector_prep_kernel, la_tiles_vec.cuh): the
  // intra-chunk scores and the gate-folded q and k, bf16.
  void* achunk = nullptr;        // [NC, H, C, C] scale (Q K^T ⊙ decay), masked
  void* qd = nullptr;            // [Ttot, H, K] scale q ⊙ exp(b)
  void* kd = nullptr;            // [Ttot, H, K] k ⊙ exp(bC - b)
  // Backward inputs/outputs.
  const void* dout = nullptr;    // [Ttot, H, V] bf16
  const float* dht = nullptr;    // [N, H, K, V] or null (zeros)
  void* dhchunk = nullptr;       // [NC, H, K, V] bf16 grad of the state leaving each chunk
  float* dh0 = nullptr;          // [N, H, K, V] or null
  void* dq = nullptr;            // [Ttot, H, K] bf16
  void* dk = nullptr;            // [Ttot, H, K] bf16
  void* dv = nullptr;            // [Ttot, H, V] bf16
  float* dgate = nullptr;        // [Ttot, H, GK]: the gradient of g (la_tiles.cuh)
  // Optional terms the scalar dq/dk kernel adds (the gated delta rule's
  // gradients through its WY representation, kernels/delta_rule): fp32
  // dk_extra [Ttot, H, K] joins dk before rounding, and dg_extra [Ttot, H]
  // (per row, with respect to the chunk-local cumulative gate) joins the
  // per-row gate terms before the chunk's suffix sums.
  const float* dk_extra = nullptr;
  const float* dg_extra = nullptr;
  // Lightning's q, k, v = silu(h) of one packed projection (scalar decay
  // only). With silu_inputs, q, k and v point at their columns of the
  // pre-activation h (row stride in_stride), every kernel applies the SiLU to
  // the rows it loads, and dq, dk, dv point at the same columns of dh, which
  // gets dx * s (1 + h (1 - s)), s = sigmoid(h): split_silu's passes over h
  // and the separate q, k, v copies are gone.
  bool silu_inputs = false;
  int64_t in_stride = 0;  // row stride of q, k, v, dq, dk, dv; 0: dense [Ttot, H, K or V]

  // Sequences: cu_seqlens (int32, N+1) and chunk_offsets (int32, N+1), or,
  // when cu_seqlens is null, N sequences of seq_len rows each.
  const int* cu_seqlens = nullptr;
  const int* chunk_offsets = nullptr;
  const int* chunk_seq = nullptr;  // [NC] sequence of each global chunk (varlen only)
  int seq_len = 0;
  int num_seqs = 0;     // N
  int num_chunks = 0;   // NC
  int heads = 0;        // H
  int head_k = 0;       // K
  int head_v = 0;       // V
  float scale = 1.0f;
};

// One launcher per (family, K); V must be a multiple of 64. Each checks its
// launch and throws (via TORCH_CHECK in the .cu) on a CUDA error.
// g [Ttot, H, gk] fp32 -> gcum (chunk-local inclusive cumsum), same shape.
void launch_chunk_cumsum(const float* g, float* gcum, int gk, const LinearAttnParams& p,
                         void* stream);
template <int DK, bool kVector>
void launch_forward(const LinearAttnParams& p, void* stream);
template <int DK, bool kVector>
void launch_backward_state(const LinearAttnParams& p, void* stream);
template <int DK, bool kVector>
void launch_backward_chunks(const LinearAttnParams& p, void* stream);

}  // namespace scalelab::kernels::cuda
