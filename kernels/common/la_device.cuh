// Device helpers shared by the linear-attention kernels (la_scan.cuh,
// la_tiles.cuh, la_tiles_vec.cuh): chunk/sequence bookkeeping and cp.async
// tile loads and stores for blocks of NT threads.
#pragma once

#include <cuda_bf16.h>

#include "kernels/common/la_params.cuh"

namespace scalelab::kernels::cuda {

using bf16 = __nv_bfloat16;

inline constexpr int C = kChunk;

// ---------------------------------------------------------------- helpers

// e^x of decay exponents (x <= 0 almost everywhere): one MUFU.EX2 and a
// multiply. __expf without -ftz wraps the EX2 in a range test and two
// predicated multiplies to return subnormal results; here those flush to 0
// (e^x < 1.2e-38, below anything a bf16 output or fp32 accumulator can hold).
__device__ __forceinline__ float decay_exp(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x * 1.4426950408889634f));
  return y;
}

// SiLU and its derivative factor, as split_silu computes them (the fused
// and unfused Lightning paths round the same floats).
__device__ __forceinline__ float silu_sigmoid(float x) { return __fdividef(1.f, 1.f + __expf(-x)); }
__device__ __forceinline__ float silu_of(float x) { return x * silu_sigmoid(x); }
__device__ __forceinline__ float silu_grad(float x, float dy) {
  const float s = silu_sigmoid(x);
  return dy * s * (1.f + x * (1.f - s));
}

struct Seq {
  int bos, eos, chunk0;
};

__device__ __forceinline__ Seq seq_of(const LinearAttnParams& p, int n) {
  Seq s;
  if (p.cu_seqlens != nullptr) {
    s.bos = p.cu_seqlens[n];
    s.eos = p.cu_seqlens[n + 1];
    s.chunk0 = p.chunk_offsets[n];
  } else {
    s.bos = n * p.seq_len;
    s.eos = s.bos + p.seq_len;
    s.chunk0 = n * ((p.seq_len + C - 1) / C);
  }
  return s;
}

__device__ __forceinline__ int seq_of_chunk(const LinearAttnParams& p, int ci) {
  if (p.chunk_seq != nullptr) return p.chunk_seq[ci];
  return ci / ((p.seq_len + C - 1) / C);
}

// Asynchronous global->shared copies (cp.async): every load of a chunk is in
// flight at once instead of one round trip per register; src_bytes = 0
// zero-fills the destination. Callers end with cp_async_wait() + a barrier.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async4(void* dst, const void* src) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(d), "l"(src));
}
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

// Copies rows [row0, row0+rows) x cols [col0, col0+W) of a [Ttot, stride]
// bf16 tensor into smem [C][LD]; rows >= `rows` become zeros (the partial
// last chunk, so no caller-side padding is needed).
template <int W, int LD, int NT>
__device__ __forceinline__ void load_rows(bf16* dst, const bf16* src, int64_t row0, int rows,
                                          int64_t stride, int col0) {
  constexpr int kVecPerRow = W / 8;
  for (int i = threadIdx.x; i < C * kVecPerRow; i += NT) {
    const int r = i / kVecPerRow, c = (i % kVecPerRow) * 8;
    const int rr = r < rows ? r : 0;  // a valid address even when zero-filling
    cp_async16(dst + r * LD + c, src + (row0 + rr) * stride + col0 + c, r < rows);
  }
}

// SiLU in place over the pieces of a tile that this thread copied with
// load_rows<W, LD, NT> (same index walk, so only its own cp.async copies must
// have landed: call after cp_async_wait(), before the barrier). Zero-filled
// rows stay zero.
template <int W, int LD, int NT>
__device__ __forceinline__ void silu_rows(bf16* tile) {
  constexpr int kVecPerRow = W / 8;
  for (int i = threadIdx.x; i < C * kVecPerRow; i += NT) {
    const int r = i / kVecPerRow, c = (i % kVecPerRow) * 8;
    uint4 u = *reinterpret_cast<const uint4*>(tile + r * LD + c);
    __nv_bfloat162* h2 = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 x = __bfloat1622float2(h2[j]);
      h2[j] = __floats2bfloat162_rn(silu_of(x.x), silu_of(x.y));
    }
    *reinterpret_cast<uint4*>(tile + r * LD + c) = u;
  }
}

// Gate rows; rows past the end repeat the last valid row so every decay
// factor involving them is exp(0) (their q, k, v rows are zero).
template <int GK, int LD, int NT>
__device__ __forceinline__ void load_gate(float* dst, const float* gcum, int64_t row0, int rows,
                                          int64_t stride) {
  if constexpr (GK % 4 == 0) {
    for (int i = threadIdx.x; i < C * GK / 4; i += NT) {
      const int r = i / (GK / 4), c = (i % (GK / 4)) * 4;
      const int rr = r < rows ? r : rows - 1;
      cp_async16(dst + r * LD + c, gcum + (row0 + rr) * stride + c, true);
    }
  } else {
    for (int r = threadIdx.x; r < C; r += NT) {
      const int rr = r < rows ? r : rows - 1;
      cp_async4(dst + r * LD, gcum + (row0 + rr) * stride);
    }
  }
}

// Writes rows < `rows` of a bf16 smem tile [C][LDS] into global, 16 bytes a
// thread at a time.
template <int W, int LDS, int NT>
__device__ __forceinline__ void store_rows_bf16(bf16* dst, const bf16* src, int64_t row0, int rows,
                                                int64_t stride, int col0) {
  constexpr int kVecPerRow = W / 8;
  for (int i = threadIdx.x; i < C * kVecPerRow; i += NT) {
    const int r = i / kVecPerRow, c = (i % kVecPerRow) * 8;
    if (r < rows)
      *reinterpret_cast<uint4*>(dst + (row0 + r) * stride + col0 + c) =
          *reinterpret_cast<const uint4*>(src + r * LDS + c);
  }
}

// store_rows_bf16 through the SiLU: rows < `rows` of the gradient tile SRC
// times silu'(pre) at the same place of PRE (same layout as DST) into DST.
template <int W, int LDS, int NT>
__device__ __forceinline__ void store_rows_silu_grad(bf16* dst, const bf16* pre, const bf16* src,
                                                     int64_t row0, int rows, int64_t stride,
                                                     int col0) {
  constexpr int kVecPerRow = W / 8;
  for (int i = threadIdx.x; i < C * kVecPerRow; i += NT) {
    const int r = i / kVecPerRow, c = (i % kVecPerRow) * 8;
    if (r >= rows) continue;
    const int64_t at = (row0 + r) * stride + col0 + c;
    uint4 h = *reinterpret_cast<const uint4*>(pre + at);
    uint4 d = *reinterpret_cast<const uint4*>(src + r * LDS + c);
    const __nv_bfloat162* h2 = reinterpret_cast<const __nv_bfloat162*>(&h);
    __nv_bfloat162* d2 = reinterpret_cast<__nv_bfloat162*>(&d);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 x = __bfloat1622float2(h2[j]), y = __bfloat1622float2(d2[j]);
      d2[j] = __floats2bfloat162_rn(silu_grad(x.x, y.x), silu_grad(x.y, y.y));
    }
    *reinterpret_cast<uint4*>(dst + at) = d;
  }
}

// A [DK x BV] tile of a bf16 [.., K, V] state -> smem [DK][LD] (cp.async;
// the caller waits).
template <int DK, int BV, int LD, int NT>
__device__ __forceinline__ void load_state_tile(bf16* dst, const bf16* src, int V, int col0) {
  for (int i = threadIdx.x; i < DK * (BV / 8); i += NT) {
    const int r = i / (BV / 8), c = (i % (BV / 8)) * 8;
    cp_async16(dst + r * LD + c, src + (int64_t)r * V + col0 + c, true);
  }
}

}  // namespace scalelab::kernels::cuda
