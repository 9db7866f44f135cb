// Device helpers shared by the linear-attention kernels (la_scan.cuh,
// la_chunks.cuh): chunk/sequence bookkeeping, cp.async tile loads, WMMA tile
// products, the gate folds and the intra-chunk score matrices.
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include "kernels/common/la_params.cuh"

namespace scalelab::kernels::cuda {

namespace wmma = nvcuda::wmma;
using bf16 = __nv_bfloat16;

inline constexpr int kThreads = 256;  // 8 warps
inline constexpr int kWarps = kThreads / 32;
inline constexpr int C = kChunk;

// ---------------------------------------------------------------- helpers

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
template <int W, int LD, int NT = kThreads>
__device__ __forceinline__ void load_rows(bf16* dst, const bf16* src, int64_t row0, int rows,
                                          int64_t stride, int col0) {
  constexpr int kVecPerRow = W / 8;
  for (int i = threadIdx.x; i < C * kVecPerRow; i += NT) {
    const int r = i / kVecPerRow, c = (i % kVecPerRow) * 8;
    const int rr = r < rows ? r : 0;  // a valid address even when zero-filling
    cp_async16(dst + r * LD + c, src + (row0 + rr) * stride + col0 + c, r < rows);
  }
}

// Gate rows; rows past the end repeat the last valid row so every decay
// factor involving them is exp(0) (their q, k, v rows are zero).
template <int GK, int LD, int NT = kThreads>
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

// Writes rows < `rows` of an fp32 smem tile [C][LDS] as bf16 into global.
template <int W, int LDS>
__device__ __forceinline__ void store_rows(bf16* dst, const float* src, int64_t row0, int rows,
                                           int64_t stride, int col0) {
  constexpr int kPairsPerRow = W / 2;
  for (int i = threadIdx.x; i < C * kPairsPerRow; i += kThreads) {
    const int r = i / kPairsPerRow, c = (i % kPairsPerRow) * 2;
    if (r < rows) {
      *reinterpret_cast<__nv_bfloat162*>(dst + (row0 + r) * stride + col0 + c) =
          __floats2bfloat162_rn(src[r * LDS + c], src[r * LDS + c + 1]);
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

// WMMA operand addressing: tile (i, kk) of A and (kk, j) of B, 16x16 each.
template <typename Layout>
__device__ __forceinline__ const bf16* a_tile(const bf16* A, int lda, int i, int kk) {
  if constexpr (std::is_same_v<Layout, wmma::row_major>) return A + 16 * i * lda + 16 * kk;
  else return A + 16 * i + 16 * kk * lda;
}
template <typename Layout>
__device__ __forceinline__ const bf16* b_tile(const bf16* B, int ldb, int kk, int j) {
  if constexpr (std::is_same_v<Layout, wmma::row_major>) return B + 16 * kk * ldb + 16 * j;
  else return B + 16 * kk + 16 * j * ldb;
}

using FragAcc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
template <typename L>
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, L>;
template <typename L>
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, L>;

template <typename LA, typename LB>
__device__ __forceinline__ void mma_k(FragAcc& acc, const bf16* A, int lda, const bf16* B,
                                      int ldb, int i, int j, int k_begin, int k_end) {
  FragA<LA> a;
  FragB<LB> b;
  for (int kk = k_begin; kk < k_end; ++kk) {
    wmma::load_matrix_sync(a, a_tile<LA>(A, lda, i, kk), lda);
    wmma::load_matrix_sync(b, b_tile<LB>(B, ldb, kk, j), ldb);
    wmma::mma_sync(acc, a, b, acc);
  }
}

// Out[M x N] (+)= (A [+ A2]) [M x KD] B[KD x N], tiles spread over the 8
// warps; A2 (same layout) is the low half of a split-precision operand.
template <int M, int N, int KD, typename LA, typename LB>
__device__ __forceinline__ void block_gemm(float* out, int ldo, const bf16* A, int lda,
                                           const bf16* B, int ldb, bool accumulate,
                                           const bf16* A2 = nullptr) {
  const int warp = threadIdx.x / 32;
  for (int t = warp; t < (M / 16) * (N / 16); t += kWarps) {
    const int i = t / (N / 16), j = t % (N / 16);
    FragAcc acc;
    if (accumulate) wmma::load_matrix_sync(acc, out + 16 * i * ldo + 16 * j, ldo, wmma::mem_row_major);
    else wmma::fill_fragment(acc, 0.f);
    mma_k<LA, LB>(acc, A, lda, B, ldb, i, j, 0, KD / 16);
    if (A2 != nullptr) mma_k<LA, LB>(acc, A2, lda, B, ldb, i, j, 0, KD / 16);
    wmma::store_matrix_sync(out + 16 * i * ldo + 16 * j, acc, ldo, wmma::mem_row_major);
  }
}

// ---------------------------------------------------------------- intra A

// Scalar decay: a32 holds Q K^T (fp32); writes scale * masked decayed A (bf16).
template <int LDA32, int LDAB>
__device__ __forceinline__ void scalar_mask_A(bf16* ab, const float* a32, const float* g,
                                              float scale) {
  for (int i = threadIdx.x; i < C * C; i += kThreads) {
    const int t = i / C, j = i % C;
    const float val = j <= t ? a32[t * LDA32 + j] * scale * __expf(g[t] - g[j]) : 0.f;
    ab[t * LDAB + j] = __float2bfloat16(val);
  }
}

// Vector decay: A_tj = scale * sum_c q_tc k_jc exp(b_tc - b_jc), j <= t, with
// secondary chunking in 16-row sub-chunks. Off-diagonal sub-blocks (I > J)
// fold the gate into both sides around r = b at the last row of J, so both
// factors are <= 1 (no overflow for any gate): A_IJ = (q_I e^{b_I - r})
// (k_J e^{r - b_J})^T on tensor cores. Diagonal sub-blocks use the exact
// per-pair factor in fp32 on CUDA cores. SCRATCH holds >= 144 rows of LDQ
// bf16 (folded copies), A32 is fp32 [C][LDA32].
__device__ __forceinline__ int fold_base(int J) { return J == 0 ? 0 : J == 1 ? 64 : 112; }

template <int DK, int LDQ, int LDG, int LDA32, int LDAB>
__device__ __forceinline__ void vector_intra_A(bf16* ab, bf16* scratch, float* a32, const bf16* q,
                                               const bf16* k, const float* g, float scale) {
  // Per J: Kf_J (16 rows) then Qf_J (rows of sub-chunks I > J: 16 (3 - J)).
  for (int e = threadIdx.x; e < 144 * DK; e += kThreads) {
    const int row = e / DK, c = e % DK;
    const int J = row < 64 ? 0 : row < 112 ? 1 : 2, local = row - fold_base(J);
    const float r = g[(16 * J + 15) * LDG + c];
    float x;
    if (local < 16) {
      const int j = 16 * J + local;
      x = __bfloat162float(k[j * LDQ + c]) * __expf(r - g[j * LDG + c]);
    } else {
      const int t = 16 * (J + 1) + local - 16;
      x = __bfloat162float(q[t * LDQ + c]) * __expf(g[t * LDG + c] - r);
    }
    scratch[row * LDQ + c] = __float2bfloat16(x);
  }
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp < 6) {  // (I, J) = (1,0) (2,0) (3,0) (2,1) (3,1) (3,2)
    const int J = warp < 3 ? 0 : warp < 5 ? 1 : 2;
    const int I = J + 1 + (warp - (J == 0 ? 0 : J == 1 ? 3 : 5));
    const bf16* kf = scratch + fold_base(J) * LDQ;
    const bf16* qf = kf + 16 * LDQ + 16 * (I - J - 1) * LDQ;
    FragAcc acc;
    wmma::fill_fragment(acc, 0.f);
    mma_k<wmma::row_major, wmma::col_major>(acc, qf, LDQ, kf, LDQ, 0, 0, 0, DK / 16);
    wmma::store_matrix_sync(a32 + 16 * I * LDA32 + 16 * J, acc, LDA32, wmma::mem_row_major);
  }
  // Diagonal sub-blocks: 4 x 16 x 16 slots, exact; the c loop is skewed by
  // lane to spread shared-memory banks.
  for (int slot = threadIdx.x; slot < 4 * 256; slot += kThreads) {
    const int I = slot / 256, t = 16 * I + (slot % 256) / 16, j = 16 * I + slot % 16;
    if (j > t) continue;
    float acc = 0.f;
#pragma unroll 8
    for (int kk = 0; kk < DK; ++kk) {
      const int c = (kk + lane) & (DK - 1);
      acc += __bfloat162float(q[t * LDQ + c]) * __bfloat162float(k[j * LDQ + c]) *
             __expf(g[t * LDG + c] - g[j * LDG + c]);
    }
    a32[t * LDA32 + j] = acc;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < C * C; i += kThreads) {
    const int t = i / C, j = i % C;
    ab[t * LDAB + j] = __float2bfloat16(j <= t ? a32[t * LDA32 + j] * scale : 0.f);
  }
}

// qd = scale * q ⊙ exp(b), kd = k ⊙ exp(bC - b) (factors <= 1), as bf16 hi
// parts and, where asked, lo parts (x - hi): the state passes use hi + lo so
// the states are exact to ~16 bits, which the gate gradient needs.
template <int DK, int LDQ, int GK, int LDG>
__device__ __forceinline__ void fold_gate(bf16* qd, bf16* qdl, bf16* kd, bf16* kdl,
                                          const bf16* q, const bf16* k, const float* g,
                                          float scale) {
  for (int i = threadIdx.x; i < C * DK; i += kThreads) {
    const int t = i / DK, c = i % DK, gc = GK == 1 ? 0 : c;
    const float b = g[t * LDG + gc], bc = g[(C - 1) * LDG + gc];
    if (qd != nullptr) {
      const float x = __bfloat162float(q[t * LDQ + c]) * scale * __expf(b);
      const bf16 hi = __float2bfloat16(x);
      qd[t * LDQ + c] = hi;
      if (qdl != nullptr) qdl[t * LDQ + c] = __float2bfloat16(x - __bfloat162float(hi));
    }
    if (kd != nullptr) {
      const float x = __bfloat162float(k[t * LDQ + c]) * __expf(bc - b);
      const bf16 hi = __float2bfloat16(x);
      kd[t * LDQ + c] = hi;
      if (kdl != nullptr) kdl[t * LDQ + c] = __float2bfloat16(x - __bfloat162float(hi));
    }
  }
}

// A [DK x BV] tile of a bf16 [.., K, V] state -> smem [DK][LD] (cp.async;
// the caller waits).
template <int DK, int BV, int LD, int NT = kThreads>
__device__ __forceinline__ void load_state_tile(bf16* dst, const bf16* src, int V, int col0) {
  for (int i = threadIdx.x; i < DK * (BV / 8); i += NT) {
    const int r = i / (BV / 8), c = (i % (BV / 8)) * 8;
    cp_async16(dst + r * LD + c, src + (int64_t)r * V + col0 + c, true);
  }
}

}  // namespace scalelab::kernels::cuda
