// The parallel part of the chunked algorithm: one block per (chunk, head)
// once the scan (la_scan.cuh) has stored every chunk's entering state and
// the gradient of its leaving state.
//   output_chunks:   O = A V + (scale Q ⊙ exp(b)) S0.
//   backward_chunks: dP = dO V^T, dv = A^T dO + Kd dS1, dq, dk (intra on
//                    tensor cores for scalar decay, exact fp32 for vector
//                    decay) and the gate term q*dq - k*dk.
#pragma once

#include "kernels/common/la_device.cuh"

namespace scalelab::kernels::cuda {

// ---------------------------------------------------------------- forward: chunks

template <int DK, int BV, bool kVec>
struct OutSmem {
  static constexpr int LDQ = DK + 8, LDV = BV + 8, LDA = C + 4, LDAB = C + 8, LDSB = BV + 8;
  static constexpr int GK = kVec ? DK : 1, LDG = kVec ? DK + 4 : 1;
  bf16 q[C * LDQ], k[C * LDQ];
  bf16 fold[(kVec ? 3 : 1) * C * LDQ];  // qd; the vector A's 144-row scratch before that
  bf16 v[C * LDV], sb[DK * LDSB];
  float g[C * LDG + (kVec ? 0 : 8)];
  float a[C * LDA];  // A (fp32), then the output tile
  bf16 ab[C * LDAB];
};

// One block per (chunk, head), all chunks in parallel once the states are
// known: O = A V + (scale Q ⊙ exp(b)) S0, V in BV-wide tiles.
template <int DK, int BV, bool kVec>
__global__ void __launch_bounds__(kThreads, 2) output_chunks_kernel(LinearAttnParams p) {
  using S = OutSmem<DK, BV, kVec>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int ci = blockIdx.x, h = blockIdx.y, H = p.heads, V = p.head_v, warp = threadIdx.x / 32;
  const Seq sq = seq_of(p, seq_of_chunk(p, ci));
  const int row0 = sq.bos + (ci - sq.chunk0) * C, rows = min(C, sq.eos - row0);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V, gs = (int64_t)H * S::GK;
  load_rows<DK, S::LDQ>(s.q, static_cast<const bf16*>(p.q) + h * DK, row0, rows, qs, 0);
  load_rows<DK, S::LDQ>(s.k, static_cast<const bf16*>(p.k) + h * DK, row0, rows, qs, 0);
  load_gate<S::GK, S::LDG>(s.g, p.gcum + h * S::GK, row0, rows, gs);
  cp_async_wait();
  __syncthreads();
  if constexpr (kVec) {
    vector_intra_A<DK, S::LDQ, S::LDG, S::LDA, S::LDAB>(s.ab, s.fold, s.a, s.q, s.k, s.g, p.scale);
    fold_gate<DK, S::LDQ, S::GK, S::LDG>(s.fold, nullptr, nullptr, nullptr, s.q, nullptr, s.g, p.scale);
  } else {
    fold_gate<DK, S::LDQ, S::GK, S::LDG>(s.fold, nullptr, nullptr, nullptr, s.q, nullptr, s.g, p.scale);
    for (int t = warp; t < 16; t += kWarps) {  // lower block triangle of Q K^T
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
  const bf16* v = static_cast<const bf16*>(p.v) + h * V;
  bf16* o = static_cast<bf16*>(p.o) + h * V;
  const float* s0 = p.hchunk + ((int64_t)ci * H + h) * DK * V;
  for (int col0 = 0; col0 < V; col0 += BV) {
    __syncthreads();
    load_rows<BV, S::LDV>(s.v, v, row0, rows, vs, col0);
    load_state_split<DK, BV>(s.sb, nullptr, s0, V, col0);
    cp_async_wait();
    __syncthreads();
    for (int t = warp; t < 4 * (BV / 16); t += kWarps) {
      const int i = t / (BV / 16), j = t % (BV / 16);
      FragAcc acc;
      wmma::fill_fragment(acc, 0.f);
      mma_k<wmma::row_major, wmma::row_major>(acc, s.ab, S::LDAB, s.v, S::LDV, i, j, 0, i + 1);
      mma_k<wmma::row_major, wmma::row_major>(acc, s.fold, S::LDQ, s.sb, S::LDSB, i, j, 0, DK / 16);
      wmma::store_matrix_sync(s.a + 16 * i * S::LDA + 16 * j, acc, S::LDA, wmma::mem_row_major);
    }
    __syncthreads();
    store_rows<BV, S::LDA>(o, s.a, row0, rows, vs, col0);
  }
}

// ---------------------------------------------------------------- backward: chunks

template <int DK, int BV, bool kVec>
struct BwdChunkSmem {
  static constexpr int LDQ = DK + 8, LDV = BV + 8, LDA = C + 4, LDAB = C + 8;
  static constexpr int LDSB = BV + 8, LDBUF = DK + 4;
  static constexpr int GK = kVec ? DK : 1, LDG = kVec ? DK + 4 : 1;
  bf16 q[C * LDQ], k[C * LDQ], v[C * LDV], dout[C * LDV];
  // S0 and dS1 tiles as hi + lo bf16 pairs (x = hi + lo to ~16 bits): the
  // gate gradient is a difference of state terms that cancel, so their
  // operands need more than bf16's 8 bits.
  bf16 sb[DK * LDSB], sbl[DK * LDSB], dsb[DK * LDSB], dsbl[DK * LDSB];
  float g[C * LDG + (kVec ? 0 : 8)];
  float a[C * LDA];  // Q K^T, then the dv tile, then dP
  bf16 ab[C * LDAB];
  // kd | buf are contiguous: the vector family's A uses them as scratch.
  bf16 kd[C * LDQ];
  float buf[C * LDBUF];  // dq, then dk (fp32)
  float red[C * (DK / 32)];
};

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
    load_state_split<DK, BV>(s.sb, s.sbl, p.hchunk + st, V, col0);
    load_state_split<DK, BV>(s.dsb, s.dsbl, p.dhchunk + st, V, col0);
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
      mma_k<wmma::row_major, wmma::col_major>(dqa[r], s.dout, S::LDV, s.sbl, S::LDSB, i, j, 0, BV / 16);
      mma_k<wmma::row_major, wmma::col_major>(dka[r], s.v, S::LDV, s.dsb, S::LDSB, i, j, 0, BV / 16);
      mma_k<wmma::row_major, wmma::col_major>(dka[r], s.v, S::LDV, s.dsbl, S::LDSB, i, j, 0, BV / 16);
    }
    for (int t = warp; t < 4 * (BV / 16); t += kWarps) {
      const int i = t / (BV / 16), j = t % (BV / 16);
      FragAcc acc;
      wmma::fill_fragment(acc, 0.f);
      // A^T is zero below the diagonal blocks: row block i needs t-blocks >= i.
      mma_k<wmma::col_major, wmma::row_major>(acc, s.ab, S::LDAB, s.dout, S::LDV, i, j, i, 4);
      mma_k<wmma::row_major, wmma::row_major>(acc, s.kd, S::LDQ, s.dsb, S::LDSB, i, j, 0, DK / 16);
      mma_k<wmma::row_major, wmma::row_major>(acc, s.kd, S::LDQ, s.dsbl, S::LDSB, i, j, 0, DK / 16);
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

// Gate term q*dq - k*dk: per element (vector) or summed over K in a fixed
// order (scalar), so results are identical run to run.
template <int DK, int BV, bool kVec>
__device__ __forceinline__ void write_gate_term(BwdChunkSmem<DK, BV, kVec>& s, const LinearAttnParams& p,
                                                int h, int row0, int rows,
                                                const float (&prod)[C * DK / kThreads]) {
  const int H = p.heads;
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

// Loads the chunk's q, k and gate; recomputes A (bf16, into ab) and the
// folded keys kd = k ⊙ exp(bC - b).
template <int DK, int BV, bool kVec>
__device__ __forceinline__ void bwd_load_chunk(BwdChunkSmem<DK, BV, kVec>& s, const LinearAttnParams& p,
                                               int h, int row0, int rows) {
  using S = BwdChunkSmem<DK, BV, kVec>;
  const int64_t qs = (int64_t)p.heads * DK, gs = (int64_t)p.heads * S::GK;
  load_rows<DK, S::LDQ>(s.q, static_cast<const bf16*>(p.q) + h * DK, row0, rows, qs, 0);
  load_rows<DK, S::LDQ>(s.k, static_cast<const bf16*>(p.k) + h * DK, row0, rows, qs, 0);
  load_gate<S::GK, S::LDG>(s.g, p.gcum + h * S::GK, row0, rows, gs);
  cp_async_wait();
  __syncthreads();
  if constexpr (kVec) {
    vector_intra_A<DK, S::LDQ, S::LDG, S::LDA, S::LDAB>(s.ab, s.kd, s.a, s.q, s.k, s.g, p.scale);
    fold_gate<DK, S::LDQ, S::GK, S::LDG>(nullptr, nullptr, s.kd, nullptr, s.q, s.k, s.g, p.scale);
  } else {
    fold_gate<DK, S::LDQ, S::GK, S::LDG>(nullptr, nullptr, s.kd, nullptr, s.q, s.k, s.g, p.scale);
    block_gemm<C, C, DK, wmma::row_major, wmma::col_major>(s.a, S::LDA, s.q, S::LDQ, s.k, S::LDQ, false);
    __syncthreads();
    scalar_mask_A<S::LDA, S::LDAB>(s.ab, s.a, s.g, p.scale);
  }
  __syncthreads();
}

template <int DK, int BV, bool kVec>
__global__ void __launch_bounds__(kThreads, 1) backward_chunks_kernel(LinearAttnParams p) {
  using S = BwdChunkSmem<DK, BV, kVec>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int ci = blockIdx.x, h = blockIdx.y, warp = threadIdx.x / 32;
  const int n = seq_of_chunk(p, ci);
  const Seq sq = seq_of(p, n);
  const int row0 = sq.bos + (ci - sq.chunk0) * C, rows = min(C, sq.eos - row0);
  bwd_load_chunk<DK, BV, kVec>(s, p, h, row0, rows);

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
    // Masked entries must not evaluate exp(b_t - b_j) > 0: it overflows for
    // strong gates, and 0 * inf is NaN.
    float x = j <= t ? s.a[t * S::LDA + j] * p.scale : 0.f;
    if constexpr (!kVec) {
      if (j <= t) x *= __expf(s.g[t] - s.g[j]);
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

  write_gate_term<DK, BV, kVec>(s, p, h, row0, rows, prod);
}

}  // namespace scalelab::kernels::cuda
