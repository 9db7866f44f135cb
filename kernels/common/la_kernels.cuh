// Templated chunked linear-attention kernels (both families) for Hopper:
// bf16 operands on tensor cores (WMMA 16x16x16, fp32 accumulate), fp32 gates
// and states. Included by one small .cu per (family, head dim K) only.
//
// Per chunk of C = 64 rows with chunk-local cumulative log decay b (b_t <= 0,
// decreasing), state S0 entering the chunk and bC = b at the last valid row:
//   A  = scale * (Q K^T ⊙ exp(b_t - b_j)) masked to j <= t     (intra)
//   O  = A V + (scale * Q ⊙ exp(b)) S0                         (intra + inter)
//   S1 = exp(bC) ⊙ S0 + (K ⊙ exp(bC - b))^T V                  (state passing)
// Scalar decay computes Q K^T on tensor cores and applies the decay mask
// afterwards. Vector decay computes A in fp32 on CUDA cores with the exact
// per-pair factor exp(b_tk - b_jk) <= 1 (no folding of exp(-b) into K, hence
// no overflow however strong the gate); inter-chunk terms fold the gate into
// Q and K (factors <= 1) and run on tensor cores.
//
// Three kernels: forward (one block per (sequence, head, V tile) walking its
// chunks in order, writing O, the final state and optionally each chunk's
// entering state), backward_state (same grid, walking backwards, writing the
// gradient of each chunk's leaving state and of the initial state), and
// backward_chunks (one block per (chunk, head), all chunks in parallel:
// dq, dk, dv and the gate gradient's per-row term q*dq - k*dk).
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
template <int W, int LD>
__device__ __forceinline__ void load_rows(bf16* dst, const bf16* src, int64_t row0, int rows,
                                          int64_t stride, int col0) {
  constexpr int kVecPerRow = W / 8;
  for (int i = threadIdx.x; i < C * kVecPerRow; i += kThreads) {
    const int r = i / kVecPerRow, c = (i % kVecPerRow) * 8;
    const int rr = r < rows ? r : 0;  // a valid address even when zero-filling
    cp_async16(dst + r * LD + c, src + (row0 + rr) * stride + col0 + c, r < rows);
  }
}

// Gate rows; rows past the end repeat the last valid row so every decay
// factor involving them is exp(0) (their q, k, v rows are zero).
template <int GK, int LD>
__device__ __forceinline__ void load_gate(float* dst, const float* gcum, int64_t row0, int rows,
                                          int64_t stride) {
  if constexpr (GK % 4 == 0) {
    for (int i = threadIdx.x; i < C * GK / 4; i += kThreads) {
      const int r = i / (GK / 4), c = (i % (GK / 4)) * 4;
      const int rr = r < rows ? r : rows - 1;
      cp_async16(dst + r * LD + c, gcum + (row0 + rr) * stride + c, true);
    }
  } else {
    for (int r = threadIdx.x; r < C; r += kThreads) {
      const int rr = r < rows ? r : rows - 1;
      cp_async4(dst + r * LD, gcum + (row0 + rr) * stride);
    }
  }
}

// State tile [DK][BV] of a [.., K, V] fp32 tensor (row-major K x V) <-> smem.
template <int DK, int BV, int LD>
__device__ __forceinline__ void load_state(float* dst, const float* src, int V, int col0) {
  for (int i = threadIdx.x; i < DK * BV / 4; i += kThreads) {
    const int r = i / (BV / 4), c = (i % (BV / 4)) * 4;
    float4 val = src != nullptr ? *reinterpret_cast<const float4*>(src + (int64_t)r * V + col0 + c)
                                : make_float4(0.f, 0.f, 0.f, 0.f);
    *reinterpret_cast<float4*>(dst + r * LD + c) = val;
  }
}

template <int DK, int BV, int LD>
__device__ __forceinline__ void store_state(float* dst, const float* src, int V, int col0) {
  for (int i = threadIdx.x; i < DK * BV / 4; i += kThreads) {
    const int r = i / (BV / 4), c = (i % (BV / 4)) * 4;
    *reinterpret_cast<float4*>(dst + (int64_t)r * V + col0 + c) =
        *reinterpret_cast<const float4*>(src + r * LD + c);
  }
}

template <int ROWS, int COLS, int LDS, int LDD>
__device__ __forceinline__ void to_bf16(bf16* dst, const float* src) {
  for (int i = threadIdx.x; i < ROWS * COLS; i += kThreads) {
    const int r = i / COLS, c = i % COLS;
    dst[r * LDD + c] = __float2bfloat16(src[r * LDS + c]);
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

// Out[M x N] (+)= A[M x KD] B[KD x N], tiles spread over the 8 warps.
template <int M, int N, int KD, typename LA, typename LB>
__device__ __forceinline__ void block_gemm(float* out, int ldo, const bf16* A, int lda,
                                           const bf16* B, int ldb, bool accumulate) {
  const int warp = threadIdx.x / 32;
  for (int t = warp; t < (M / 16) * (N / 16); t += kWarps) {
    const int i = t / (N / 16), j = t % (N / 16);
    FragAcc acc;
    if (accumulate) wmma::load_matrix_sync(acc, out + 16 * i * ldo + 16 * j, ldo, wmma::mem_row_major);
    else wmma::fill_fragment(acc, 0.f);
    mma_k<LA, LB>(acc, A, lda, B, ldb, i, j, 0, KD / 16);
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

// Vector decay: A_tj = scale * sum_k q_tk k_jk exp(b_tk - b_jk), j <= t, fp32
// on CUDA cores. Warp w owns rows t = w + 8r, lane owns columns j = lane,
// lane + 32; the k loop is skewed by lane to spread smem banks.
template <int DK, int LDQ, int LDG, int LDAB>
__device__ __forceinline__ void vector_intra_A(bf16* ab, const bf16* q, const bf16* k,
                                               const float* g, float scale) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int t = warp; t < C; t += kWarps) {
#pragma unroll
    for (int jj = 0; jj < 2; ++jj) {
      const int j = lane + 32 * jj;
      float acc = 0.f;
      if (j <= t) {
#pragma unroll 8
        for (int kk = 0; kk < DK; ++kk) {
          const int c = (kk + lane) & (DK - 1);
          acc += __bfloat162float(q[t * LDQ + c]) * __bfloat162float(k[j * LDQ + c]) *
                 __expf(g[t * LDG + c] - g[j * LDG + c]);
        }
      }
      ab[t * LDAB + j] = __float2bfloat16(acc * scale);
    }
  }
}

// ---------------------------------------------------------------- forward

template <int DK, int BV, bool kVec>
struct FwdSmem {
  static constexpr int LDQ = DK + 8, LDV = BV + 8, LDA = C + 4, LDAB = C + 8;
  static constexpr int LDS = BV + 4, LDSB = BV + 8;
  static constexpr int GK = kVec ? DK : 1, LDG = kVec ? DK + 4 : 1;
  bf16 q[C * LDQ], k[C * LDQ], qd[C * LDQ], kd[C * LDQ], v[C * LDV];
  float g[C * LDG + (kVec ? 0 : 8)];  // +8 keeps 32-byte alignment of what follows
  float a[C * LDA];                   // Q K^T (fp32), then the output tile
  bf16 ab[C * LDAB];
  float s[DK * LDS];
  bf16 sb[DK * LDSB];
};

// qd = scale * q ⊙ exp(b), kd = k ⊙ exp(bC - b), both bf16 (factors <= 1).
template <int DK, int LDQ, int GK, int LDG>
__device__ __forceinline__ void fold_gate(bf16* qd, bf16* kd, const bf16* q, const bf16* k,
                                          const float* g, float scale) {
  for (int i = threadIdx.x; i < C * DK; i += kThreads) {
    const int t = i / DK, c = i % DK, gc = GK == 1 ? 0 : c;
    const float b = g[t * LDG + gc], bc = g[(C - 1) * LDG + gc];
    if (qd != nullptr) qd[t * LDQ + c] = __float2bfloat16(__bfloat162float(q[t * LDQ + c]) * scale * __expf(b));
    if (kd != nullptr) kd[t * LDQ + c] = __float2bfloat16(__bfloat162float(k[t * LDQ + c]) * __expf(bc - b));
  }
}

// S *= exp(bC) per key row (or once for scalar decay).
template <int DK, int BV, int LDS, int GK, int LDG>
__device__ __forceinline__ void decay_state(float* s, const float* g) {
  for (int i = threadIdx.x; i < DK * BV; i += kThreads) {
    const int r = i / BV, c = i % BV;
    s[r * LDS + c] *= __expf(g[(C - 1) * LDG + (GK == 1 ? 0 : r)]);
  }
}

template <int DK, int BV, bool kVec>
__global__ void __launch_bounds__(kThreads, 1) forward_kernel(LinearAttnParams p) {
  using S = FwdSmem<DK, BV, kVec>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int vt = blockIdx.x, h = blockIdx.y, n = blockIdx.z;
  const int H = p.heads, V = p.head_v, col0 = vt * BV;
  const Seq sq = seq_of(p, n);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V, gs = (int64_t)H * S::GK;
  const bf16* q = static_cast<const bf16*>(p.q) + h * DK;
  const bf16* k = static_cast<const bf16*>(p.k) + h * DK;
  const bf16* v = static_cast<const bf16*>(p.v) + h * V;
  const float* gc = p.gcum + h * S::GK;
  bf16* o = static_cast<bf16*>(p.o) + h * V;
  const int64_t state_off = ((int64_t)n * H + h) * DK * V;

  load_state<DK, BV, S::LDS>(s.s, p.h0 != nullptr ? p.h0 + state_off : nullptr, V, col0);
  __syncthreads();
  to_bf16<DK, BV, S::LDS, S::LDSB>(s.sb, s.s);
  int ci = sq.chunk0;
  for (int row0 = sq.bos; row0 < sq.eos; row0 += C, ++ci) {
    const int rows = min(C, sq.eos - row0);
    load_rows<DK, S::LDQ>(s.q, q, row0, rows, qs, 0);
    load_rows<DK, S::LDQ>(s.k, k, row0, rows, qs, 0);
    load_rows<BV, S::LDV>(s.v, v, row0, rows, vs, col0);
    load_gate<S::GK, S::LDG>(s.g, gc, row0, rows, gs);
    if (p.hchunk != nullptr)
      store_state<DK, BV, S::LDS>(p.hchunk + ((int64_t)ci * H + h) * DK * V, s.s, V, col0);
    cp_async_wait();
    __syncthreads();
    fold_gate<DK, S::LDQ, S::GK, S::LDG>(s.qd, s.kd, s.q, s.k, s.g, p.scale);
    if constexpr (kVec) {
      vector_intra_A<DK, S::LDQ, S::LDG, S::LDAB>(s.ab, s.q, s.k, s.g, p.scale);
    } else {
      // Q K^T on the lower block triangle only (upper tiles are masked out).
      const int warp = threadIdx.x / 32;
      for (int t = warp; t < 16; t += kWarps) {
        const int i = t / 4, j = t % 4;
        if (j > i) continue;
        FragAcc acc;
        wmma::fill_fragment(acc, 0.f);
        mma_k<wmma::row_major, wmma::col_major>(acc, s.q, S::LDQ, s.k, S::LDQ, i, j, 0, DK / 16);
        wmma::store_matrix_sync(s.a + 16 * i * S::LDA + 16 * j, acc, S::LDA, wmma::mem_row_major);
      }
      __syncthreads();
      scalar_mask_A<S::LDA, S::LDAB>(s.ab, s.a, s.g, p.scale);
    }
    __syncthreads();
    // O = A V + Qd S0 (A is zero above the diagonal blocks: skip those k-steps).
    {
      const int warp = threadIdx.x / 32;
      for (int t = warp; t < 4 * (BV / 16); t += kWarps) {
        const int i = t / (BV / 16), j = t % (BV / 16);
        FragAcc acc;
        wmma::fill_fragment(acc, 0.f);
        mma_k<wmma::row_major, wmma::row_major>(acc, s.ab, S::LDAB, s.v, S::LDV, i, j, 0, i + 1);
        mma_k<wmma::row_major, wmma::row_major>(acc, s.qd, S::LDQ, s.sb, S::LDSB, i, j, 0, DK / 16);
        wmma::store_matrix_sync(s.a + 16 * i * S::LDA + 16 * j, acc, S::LDA, wmma::mem_row_major);
      }
    }
    decay_state<DK, BV, S::LDS, S::GK, S::LDG>(s.s, s.g);
    __syncthreads();
    store_rows<BV, S::LDA>(o, s.a, row0, rows, vs, col0);
    // S1 = exp(bC) S0 + Kd^T V
    block_gemm<DK, BV, C, wmma::col_major, wmma::row_major>(s.s, S::LDS, s.kd, S::LDQ, s.v, S::LDV, true);
    __syncthreads();
    to_bf16<DK, BV, S::LDS, S::LDSB>(s.sb, s.s);
    __syncthreads();
  }
  if (p.ht != nullptr) store_state<DK, BV, S::LDS>(p.ht + state_off, s.s, V, col0);
}

// ---------------------------------------------------------------- backward: state

template <int DK, int BV, bool kVec>
struct BwdStateSmem {
  static constexpr int LDQ = DK + 8, LDV = BV + 8, LDS = BV + 4;
  static constexpr int GK = kVec ? DK : 1, LDG = kVec ? DK + 4 : 1;
  bf16 q[C * LDQ], qd[C * LDQ], dout[C * LDV];
  float g[C * LDG + (kVec ? 0 : 8)];
  float ds[DK * LDS];
};

// Walks a sequence's chunks backwards: dS(leaving chunk c) is stored, then
// dS <- exp(bC) dS + (scale Q ⊙ exp(b))^T dO; what is left is d initial state.
template <int DK, int BV, bool kVec>
__global__ void __launch_bounds__(kThreads, 1) backward_state_kernel(LinearAttnParams p) {
  using S = BwdStateSmem<DK, BV, kVec>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int vt = blockIdx.x, h = blockIdx.y, n = blockIdx.z;
  const int H = p.heads, V = p.head_v, col0 = vt * BV;
  const Seq sq = seq_of(p, n);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V, gs = (int64_t)H * S::GK;
  const bf16* q = static_cast<const bf16*>(p.q) + h * DK;
  const bf16* dout = static_cast<const bf16*>(p.dout) + h * V;
  const float* gc = p.gcum + h * S::GK;
  const int64_t state_off = ((int64_t)n * H + h) * DK * V;
  const int nchunks = (sq.eos - sq.bos + C - 1) / C;

  load_state<DK, BV, S::LDS>(s.ds, p.dht != nullptr ? p.dht + state_off : nullptr, V, col0);
  for (int c = nchunks - 1; c >= 0; --c) {
    const int row0 = sq.bos + c * C, rows = min(C, sq.eos - row0);
    __syncthreads();
    store_state<DK, BV, S::LDS>(p.dhchunk + ((int64_t)(sq.chunk0 + c) * H + h) * DK * V, s.ds, V, col0);
    load_rows<DK, S::LDQ>(s.q, q, row0, rows, qs, 0);
    load_rows<BV, S::LDV>(s.dout, dout, row0, rows, vs, col0);
    load_gate<S::GK, S::LDG>(s.g, gc, row0, rows, gs);
    cp_async_wait();
    __syncthreads();
    fold_gate<DK, S::LDQ, S::GK, S::LDG>(s.qd, nullptr, s.q, nullptr, s.g, p.scale);
    decay_state<DK, BV, S::LDS, S::GK, S::LDG>(s.ds, s.g);
    __syncthreads();
    block_gemm<DK, BV, C, wmma::col_major, wmma::row_major>(s.ds, S::LDS, s.qd, S::LDQ, s.dout, S::LDV, true);
  }
  __syncthreads();
  if (p.dh0 != nullptr) store_state<DK, BV, S::LDS>(p.dh0 + state_off, s.ds, V, col0);
}

// ---------------------------------------------------------------- backward: chunks

template <int DK, int BV, bool kVec>
struct BwdChunkSmem {
  static constexpr int LDQ = DK + 8, LDV = BV + 8, LDA = C + 4, LDAB = C + 8;
  static constexpr int LDSB = BV + 8, LDBUF = DK + 4;
  static constexpr int GK = kVec ? DK : 1, LDG = kVec ? DK + 4 : 1;
  bf16 q[C * LDQ], k[C * LDQ], kd[C * LDQ], v[C * LDV], dout[C * LDV];
  bf16 sb[DK * LDSB], dsb[DK * LDSB];
  float g[C * LDG + (kVec ? 0 : 8)];
  float a[C * LDA];  // Q K^T, then the dv tile, then dP
  bf16 ab[C * LDAB];
  float buf[C * LDBUF];  // dq, then dk (fp32)
  float red[C * (DK / 32)];
};

template <int DK, int BV>
__device__ __forceinline__ void load_state_bf16(bf16* dst, const float* src, int V, int col0) {
  constexpr int LD = BV + 8;
  for (int i = threadIdx.x; i < DK * BV / 4; i += kThreads) {
    const int r = i / (BV / 4), c = (i % (BV / 4)) * 4;
    const float4 x = *reinterpret_cast<const float4*>(src + (int64_t)r * V + col0 + c);
    *reinterpret_cast<__nv_bfloat162*>(dst + r * LD + c) = __floats2bfloat162_rn(x.x, x.y);
    *reinterpret_cast<__nv_bfloat162*>(dst + r * LD + c + 2) = __floats2bfloat162_rn(x.z, x.w);
  }
}

// V-tile loop: accumulates dP = dO V^T, dq_inter = dO S0^T, dk_inter = V dS1^T
// in registers; writes dv = A^T dO + Kd dS1 per tile.
template <int DK, int BV, bool kVec>
__device__ __forceinline__ void bwd_v_loop(BwdChunkSmem<DK, BV, kVec>& s, const LinearAttnParams& p,
                                           int ci, int h, int row0, int rows, FragAcc (&dpa)[2],
                                           FragAcc (&dqa)[DK / 32], FragAcc (&dka)[DK / 32]) {
  using S = BwdChunkSmem<DK, BV, kVec>;
  const int H = p.heads, V = p.head_v, warp = threadIdx.x / 32;
  const int64_t vs = (int64_t)H * V;
  const bf16* v = static_cast<const bf16*>(p.v) + h * V;
  const bf16* dout = static_cast<const bf16*>(p.dout) + h * V;
  bf16* dv = static_cast<bf16*>(p.dv) + h * V;
  const int64_t st = ((int64_t)ci * H + h) * DK * V;
  for (int col0 = 0; col0 < V; col0 += BV) {
    load_rows<BV, S::LDV>(s.v, v, row0, rows, vs, col0);
    load_rows<BV, S::LDV>(s.dout, dout, row0, rows, vs, col0);
    load_state_bf16<DK, BV>(s.sb, p.hchunk + st, V, col0);
    load_state_bf16<DK, BV>(s.dsb, p.dhchunk + st, V, col0);
    cp_async_wait();
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 2; ++r) {  // dP tiles: 16 over 8 warps
      const int t = warp + kWarps * r, i = t / 4, j = t % 4;
      mma_k<wmma::row_major, wmma::col_major>(dpa[r], s.dout, S::LDV, s.v, S::LDV, i, j, 0, BV / 16);
    }
#pragma unroll
    for (int r = 0; r < DK / 32; ++r) {  // [C x DK] tiles: 4*DK/16 over 8 warps
      const int t = warp + kWarps * r, i = t / (DK / 16), j = t % (DK / 16);
      mma_k<wmma::row_major, wmma::col_major>(dqa[r], s.dout, S::LDV, s.sb, S::LDSB, i, j, 0, BV / 16);
      mma_k<wmma::row_major, wmma::col_major>(dka[r], s.v, S::LDV, s.dsb, S::LDSB, i, j, 0, BV / 16);
    }
    for (int t = warp; t < 4 * (BV / 16); t += kWarps) {
      const int i = t / (BV / 16), j = t % (BV / 16);
      FragAcc acc;
      wmma::fill_fragment(acc, 0.f);
      // A^T is zero below the diagonal blocks: row block i needs t-blocks >= i.
      mma_k<wmma::col_major, wmma::row_major>(acc, s.ab, S::LDAB, s.dout, S::LDV, i, j, i, 4);
      mma_k<wmma::row_major, wmma::row_major>(acc, s.kd, S::LDQ, s.dsb, S::LDSB, i, j, 0, DK / 16);
      wmma::store_matrix_sync(s.a + 16 * i * S::LDA + 16 * j, acc, S::LDA, wmma::mem_row_major);
    }
    __syncthreads();
    store_rows<BV, S::LDA>(dv, s.a, row0, rows, vs, col0);
    __syncthreads();
  }
}

// After buf holds the inter-chunk part of dq (kIsQ) or dk, adds the intra
// part and writes the bf16 gradient; prod accumulates x * dx per element.
template <int DK, int BV, bool kVec, bool kIsQ>
__device__ __forceinline__ void bwd_finish_qk(BwdChunkSmem<DK, BV, kVec>& s, const LinearAttnParams& p,
                                              int h, int row0, int rows, float (&prod)[C * DK / kThreads]) {
  using S = BwdChunkSmem<DK, BV, kVec>;
  const int64_t qs = (int64_t)p.heads * DK;
  bf16* out = static_cast<bf16*>(kIsQ ? p.dq : p.dk) + h * DK;
  const bf16* self = kIsQ ? s.q : s.k;
#pragma unroll
  for (int e = 0; e < C * DK / kThreads; ++e) {
    const int i = threadIdx.x + kThreads * e, t = i / DK, c = i % DK;
    float x = s.buf[t * S::LDBUF + c];
    if constexpr (kVec) {
      // dq_tc += sum_{j<=t} dP_tj k_jc e^{b_tc-b_jc};  dk_tc += sum_{u>=t} dP_ut q_uc e^{b_uc-b_tc}
      const float bt = s.g[t * S::LDG + c];
      if constexpr (kIsQ) {
        for (int j = 0; j <= t; ++j)
          x += s.a[t * S::LDA + j] * __bfloat162float(s.k[j * S::LDQ + c]) * __expf(bt - s.g[j * S::LDG + c]);
      } else {
        for (int u = t; u < C; ++u)
          x += s.a[u * S::LDA + t] * __bfloat162float(s.q[u * S::LDQ + c]) * __expf(s.g[u * S::LDG + c] - bt);
      }
    }
    if (t < rows) out[(row0 + t) * qs + c] = __float2bfloat16(x);
    const float xv = __bfloat162float(self[t * S::LDQ + c]) * x;
    prod[e] = kIsQ ? xv : prod[e] - xv;
  }
}

template <int DK, int BV, bool kVec>
__global__ void __launch_bounds__(kThreads, 1) backward_chunks_kernel(LinearAttnParams p) {
  using S = BwdChunkSmem<DK, BV, kVec>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int ci = blockIdx.x, h = blockIdx.y, H = p.heads, warp = threadIdx.x / 32;
  const int n = seq_of_chunk(p, ci);
  const Seq sq = seq_of(p, n);
  const int row0 = sq.bos + (ci - sq.chunk0) * C, rows = min(C, sq.eos - row0);
  const int64_t qs = (int64_t)H * DK, gs = (int64_t)H * S::GK;

  load_rows<DK, S::LDQ>(s.q, static_cast<const bf16*>(p.q) + h * DK, row0, rows, qs, 0);
  load_rows<DK, S::LDQ>(s.k, static_cast<const bf16*>(p.k) + h * DK, row0, rows, qs, 0);
  load_gate<S::GK, S::LDG>(s.g, p.gcum + h * S::GK, row0, rows, gs);
  cp_async_wait();
  __syncthreads();
  fold_gate<DK, S::LDQ, S::GK, S::LDG>(nullptr, s.kd, s.q, s.k, s.g, p.scale);
  if constexpr (kVec) {
    vector_intra_A<DK, S::LDQ, S::LDG, S::LDAB>(s.ab, s.q, s.k, s.g, p.scale);
  } else {
    block_gemm<C, C, DK, wmma::row_major, wmma::col_major>(s.a, S::LDA, s.q, S::LDQ, s.k, S::LDQ, false);
    __syncthreads();
    scalar_mask_A<S::LDA, S::LDAB>(s.ab, s.a, s.g, p.scale);
  }
  __syncthreads();

  FragAcc dpa[2], dqa[DK / 32], dka[DK / 32];
#pragma unroll
  for (int r = 0; r < 2; ++r) wmma::fill_fragment(dpa[r], 0.f);
#pragma unroll
  for (int r = 0; r < DK / 32; ++r) {
    wmma::fill_fragment(dqa[r], 0.f);
    wmma::fill_fragment(dka[r], 0.f);
  }
  bwd_v_loop<DK, BV, kVec>(s, p, ci, h, row0, rows, dpa, dqa, dka);

  // dP -> a (scaled and masked: dA), dq_inter -> buf (times scale e^{b_t}).
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int t = warp + kWarps * r, i = t / 4, j = t % 4;
    wmma::store_matrix_sync(s.a + 16 * i * S::LDA + 16 * j, dpa[r], S::LDA, wmma::mem_row_major);
  }
#pragma unroll
  for (int r = 0; r < DK / 32; ++r) {
    const int t = warp + kWarps * r, i = t / (DK / 16), j = t % (DK / 16);
    wmma::store_matrix_sync(s.buf + 16 * i * S::LDBUF + 16 * j, dqa[r], S::LDBUF, wmma::mem_row_major);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < C * C; i += kThreads) {
    const int t = i / C, j = i % C;
    float x = j <= t ? s.a[t * S::LDA + j] * p.scale : 0.f;
    if constexpr (!kVec) {
      x *= __expf(s.g[t] - s.g[j]);
      s.ab[t * S::LDAB + j] = __float2bfloat16(x);
    }
    s.a[t * S::LDA + j] = x;
  }
  for (int i = threadIdx.x; i < C * DK; i += kThreads) {
    const int t = i / DK, c = i % DK;
    s.buf[t * S::LDBUF + c] *= p.scale * __expf(s.g[t * S::LDG + (kVec ? c : 0)]);
  }
  __syncthreads();
  if constexpr (!kVec) {  // dq += (dP ⊙ M) K on tensor cores
    block_gemm<C, DK, C, wmma::row_major, wmma::row_major>(s.buf, S::LDBUF, s.ab, S::LDAB, s.k, S::LDQ, true);
    __syncthreads();
  }
  float prod[C * DK / kThreads];
  bwd_finish_qk<DK, BV, kVec, true>(s, p, h, row0, rows, prod);
  __syncthreads();

  // dk_inter -> buf (times e^{bC - b_j}), then the intra part.
#pragma unroll
  for (int r = 0; r < DK / 32; ++r) {
    const int t = warp + kWarps * r, i = t / (DK / 16), j = t % (DK / 16);
    wmma::store_matrix_sync(s.buf + 16 * i * S::LDBUF + 16 * j, dka[r], S::LDBUF, wmma::mem_row_major);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < C * DK; i += kThreads) {
    const int t = i / DK, c = i % DK, gc = kVec ? c : 0;
    s.buf[t * S::LDBUF + c] *= __expf(s.g[(C - 1) * S::LDG + gc] - s.g[t * S::LDG + gc]);
  }
  __syncthreads();
  if constexpr (!kVec) {  // dk += (dP ⊙ M)^T Q
    block_gemm<C, DK, C, wmma::col_major, wmma::row_major>(s.buf, S::LDBUF, s.ab, S::LDAB, s.q, S::LDQ, true);
    __syncthreads();
  }
  bwd_finish_qk<DK, BV, kVec, false>(s, p, h, row0, rows, prod);

  // Gate term q*dq - k*dk: per element (vector) or summed over K in a fixed
  // order (scalar), so results are identical run to run.
  if constexpr (kVec) {
#pragma unroll
    for (int e = 0; e < C * DK / kThreads; ++e) {
      const int i = threadIdx.x + kThreads * e, t = i / DK, c = i % DK;
      if (t < rows) p.dgate[((int64_t)(row0 + t) * H + h) * DK + c] = prod[e];
    }
  } else {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int e = 0; e < C * DK / kThreads; ++e) {
      const int i = threadIdx.x + kThreads * e, t = i / DK, c = i % DK;
      float x = prod[e];
#pragma unroll
      for (int off = 16; off > 0; off /= 2) x += __shfl_xor_sync(0xffffffffu, x, off);
      if (lane == 0) s.red[t * (DK / 32) + c / 32] = x;
    }
    __syncthreads();
    for (int t = threadIdx.x; t < rows; t += kThreads) {
      float x = 0.f;
#pragma unroll
      for (int w = 0; w < DK / 32; ++w) x += s.red[t * (DK / 32) + w];
      p.dgate[(int64_t)(row0 + t) * H + h] = x;
    }
  }
}

// ---------------------------------------------------------------- launchers

void check_launch(const char* what);
void set_smem(const void* fn, int bytes);

// V tile of the sequential kernels: their grid is (V / BV) x H x N blocks, so
// K = 64 uses 32-wide tiles to keep more multiprocessors busy.
template <int DK>
constexpr int seq_bv() {
  return DK == 64 ? 32 : 64;
}

template <int DK, bool kVec>
void launch_forward(const LinearAttnParams& p, void* stream) {
  constexpr int BV = seq_bv<DK>();
  auto fn = forward_kernel<DK, BV, kVec>;
  const int smem = sizeof(FwdSmem<DK, BV, kVec>);
  set_smem(reinterpret_cast<const void*>(fn), smem);
  dim3 grid(p.head_v / BV, p.heads, p.num_seqs);
  fn<<<grid, kThreads, smem, static_cast<cudaStream_t>(stream)>>>(p);
  check_launch("linear-attention forward");
}

template <int DK, bool kVec>
void launch_backward_state(const LinearAttnParams& p, void* stream) {
  constexpr int BV = seq_bv<DK>();
  auto fn = backward_state_kernel<DK, BV, kVec>;
  const int smem = sizeof(BwdStateSmem<DK, BV, kVec>);
  set_smem(reinterpret_cast<const void*>(fn), smem);
  dim3 grid(p.head_v / BV, p.heads, p.num_seqs);
  fn<<<grid, kThreads, smem, static_cast<cudaStream_t>(stream)>>>(p);
  check_launch("linear-attention backward (state)");
}

template <int DK, bool kVec>
void launch_backward_chunks(const LinearAttnParams& p, void* stream) {
  constexpr int BV = 64;
  auto fn = backward_chunks_kernel<DK, BV, kVec>;
  const int smem = sizeof(BwdChunkSmem<DK, BV, kVec>);
  set_smem(reinterpret_cast<const void*>(fn), smem);
  dim3 grid(p.num_chunks, p.heads);
  fn<<<grid, kThreads, smem, static_cast<cudaStream_t>(stream)>>>(p);
  check_launch("linear-attention backward (chunks)");
}

#define SCALELAB_LA_INSTANTIATE(DK, VEC)                                             \
  template void launch_forward<DK, VEC>(const LinearAttnParams&, void*);            \
  template void launch_backward_state<DK, VEC>(const LinearAttnParams&, void*);     \
  template void launch_backward_chunks<DK, VEC>(const LinearAttnParams&, void*);

}  // namespace scalelab::kernels::cuda
