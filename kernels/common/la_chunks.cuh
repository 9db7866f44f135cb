// The parallel part of the chunked algorithm: one block per (chunk, head)
// once the scan (la_scan.cuh) has stored every chunk's entering state and
// the gradient of its leaving state.
//   output_chunks:   O = A V + (scale Q ⊙ exp(b)) S0.
//   backward_chunks: dP = dO V^T, dv = A^T dO + Kd dS1, dq, dk (intra on
//                    tensor cores for scalar decay, exact fp32 for vector
//                    decay) and the gate gradient, final (see below).
//
// Gate gradient. Scaling q by e^e and k, S0 by e^-e over one chunk leaves its
// outputs unchanged and scales S1 by e^-e, so sum_{t in chunk}(q.dq - k.dk)
// = <S0, dS0> - <S1, dS1>; summed over the later chunks this telescopes, and
// the gradient of the log decay g_s (s in chunk c) is
//   dg_s = sum_{t >= s in c} (q_t.dq_t - k_t.dk_t) + <S1_c, dS1_c>
// (per key column for vector decay; the final state's dht term included),
// with <S1, dS1> = e^{bC} <S0, dS1> + sum_t k_t.dk_t^inter. Each block
// finishes its own rows: no sequence-long reverse cumsum, whose rounding
// errors grow with T, and the states need only bf16 precision here.
#pragma once

#include "kernels/common/la_device.cuh"
#include "kernels/common/la_mma.cuh"

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
  const bf16* s0 = static_cast<const bf16*>(p.hchunk) + ((int64_t)ci * H + h) * DK * V;
  for (int col0 = 0; col0 < V; col0 += BV) {
    __syncthreads();
    load_rows<BV, S::LDV>(s.v, v, row0, rows, vs, col0);
    load_state_tile<DK, BV, S::LDSB>(s.sb, s0, V, col0);
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
  bf16 sb[DK * LDSB], dsb[DK * LDSB];  // S0 and dS1 tiles
  float g[C * LDG + (kVec ? 0 : 8)];
  float a[C * LDA];  // Q K^T, then the dv tile, then dP
  bf16 ab[C * LDAB];
  // kd | buf are contiguous: the vector family's A uses them as scratch.
  bf16 kd[C * LDQ];
  float buf[C * LDBUF];  // dq, then dk (fp32)
  float red[C * (DK / 32)];
  float sdot[DK];           // e^{bC} sum_v S0 dS1 per state row (fp32 states)
  float kdk[kThreads];      // partial sums of k . dk_inter, per column
};

// S0 and dS1 tiles (bf16 [K, V] in global) -> shared memory, and per state
// row the fp32 partial sum of S0 ⊙ dS1 (rdot[it] belongs to row
// (threadIdx.x + kThreads it) / (BV / 4)).
template <int DK, int BV>
__device__ __forceinline__ void load_states_dot(bf16* sb, bf16* dsb, const bf16* s0,
                                                const bf16* ds1, int V, int col0,
                                                float (&rdot)[DK * BV / 4 / kThreads]) {
  constexpr int LD = BV + 8, kIters = DK * BV / 4 / kThreads;
  uint2 xs[kIters], ys[kIters];
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int i = threadIdx.x + it * kThreads;
    const int64_t off = (int64_t)(i / (BV / 4)) * V + col0 + (i % (BV / 4)) * 4;
    xs[it] = *reinterpret_cast<const uint2*>(s0 + off);
    ys[it] = *reinterpret_cast<const uint2*>(ds1 + off);
  }
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int i = threadIdx.x + it * kThreads;
    const int r = i / (BV / 4), c = (i % (BV / 4)) * 4;
    *reinterpret_cast<uint2*>(sb + r * LD + c) = xs[it];
    *reinterpret_cast<uint2*>(dsb + r * LD + c) = ys[it];
    const float2 x01 = unpack_bf16x2(xs[it].x), x23 = unpack_bf16x2(xs[it].y);
    const float2 y01 = unpack_bf16x2(ys[it].x), y23 = unpack_bf16x2(ys[it].y);
    rdot[it] += x01.x * y01.x + x01.y * y01.y + x23.x * y23.x + x23.y * y23.y;
  }
}

// V-tile loop: accumulates dP = dO V^T, dq_inter = dO S0^T, dk_inter = V dS1^T
// in registers; writes dv = A^T dO + Kd dS1 per tile.
template <int DK, int BV, bool kVec>
__device__ __forceinline__ void bwd_v_loop(BwdChunkSmem<DK, BV, kVec>& s, const LinearAttnParams& p,
                                           int ci, int h, int row0, int rows, FragAcc (&dpa)[2],
                                           FragAcc (&dqa)[DK / 32], FragAcc (&dka)[DK / 32],
                                           float (&rdot)[DK * BV / 4 / kThreads]) {
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
    load_states_dot<DK, BV>(s.sb, s.dsb, static_cast<const bf16*>(p.hchunk) + st,
                            static_cast<const bf16*>(p.dhchunk) + st, V, col0, rdot);
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

// Vector decay, the off-diagonal 16-row sub-blocks of the intra-chunk dq
// (kIsQ) or dk, added to buf on tensor cores. For dq rows in sub-chunk I and
// keys j < 16 I, the gate folds around r = b at row 16 I - 1:
//   dq_t += e^{b_t - r} ⊙ sum_j dA_tj (k_j ⊙ e^{r - b_j});
// for dk rows in sub-chunk J and queries t >= 16 (J + 1), around r = b at row
// 16 J + 15:  dk_j += e^{r - b_j} ⊙ sum_t dA_tj (q_t ⊙ e^{b_t - r}).
// Every factor is <= 1 (b decreases), so no gate overflows. The 96 folded
// rows live in the free v | dout | sb | dsb area, each warp's product tile in
// the free kd area. Needs ab = bf16(dA); ends with a barrier.
__device__ __forceinline__ int fold_row0(bool is_q, int sub) {
  // dq: sub-chunk I = 1, 2, 3 folds rows [0, 16 I) at 0, 16, 48;
  // dk: sub-chunk J = 0, 1, 2 folds rows [16 (J+1), 64) at 0, 48, 80.
  return is_q ? 8 * sub * (sub - 1) : (sub == 0 ? 0 : sub == 1 ? 48 : 80);
}

template <int DK, int BV, bool kIsQ>
__device__ __forceinline__ void vector_intra_dqk(BwdChunkSmem<DK, BV, true>& s) {
  using S = BwdChunkSmem<DK, BV, true>;
  static_assert(96 * S::LDQ <= C * S::LDV * 2 + DK * S::LDSB * 2, "fold area too small");
  static_assert(kWarps * 256 * sizeof(float) <= sizeof(s.kd), "product area too small");
  bf16* fold = s.v;  // v, dout, sb, dsb are contiguous and free here
  for (int e = threadIdx.x; e < 96 * DK; e += kThreads) {
    const int row = e / DK, c = e % DK;
    int sub, src;
    if constexpr (kIsQ) {
      sub = row < 16 ? 1 : row < 48 ? 2 : 3;
      src = row - fold_row0(true, sub);  // key row j < 16 sub
    } else {
      sub = row < 48 ? 0 : row < 80 ? 1 : 2;
      src = 16 * (sub + 1) + row - fold_row0(false, sub);  // query row t > 16 sub + 15
    }
    const float r = s.g[(kIsQ ? 16 * sub - 1 : 16 * sub + 15) * S::LDG + c];
    const float b = s.g[src * S::LDG + c];
    const float x = __bfloat162float((kIsQ ? s.k : s.q)[src * S::LDQ + c]) * __expf(kIsQ ? r - b : b - r);
    fold[row * S::LDQ + c] = __float2bfloat16(x);
  }
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* w = reinterpret_cast<float*>(s.kd) + warp * 256;
  for (int tile = warp; tile < 3 * (DK / 16); tile += kWarps) {
    const int sub = kIsQ ? 1 + tile / (DK / 16) : tile / (DK / 16), nt = tile % (DK / 16);
    const bf16* fb = fold + fold_row0(kIsQ, sub) * S::LDQ;
    FragAcc acc;
    wmma::fill_fragment(acc, 0.f);
    if constexpr (kIsQ) {  // dA[I rows, 0..16I) x fold
      mma_k<wmma::row_major, wmma::row_major>(acc, s.ab, S::LDAB, fb, S::LDQ, sub, nt, 0, sub);
    } else {  // sum over I > J of dA[I rows, J cols]^T x fold rows of I
      FragA<wmma::col_major> a;
      FragB<wmma::row_major> b;
      for (int I = sub + 1; I < 4; ++I) {
        wmma::load_matrix_sync(a, s.ab + 16 * sub + 16 * I * S::LDAB, S::LDAB);
        wmma::load_matrix_sync(b, fb + 16 * (I - sub - 1) * S::LDQ + 16 * nt, S::LDQ);
        wmma::mma_sync(acc, a, b, acc);
      }
    }
    wmma::store_matrix_sync(w, acc, 16, wmma::mem_row_major);
    __syncwarp();
    const float* rrow = s.g + (kIsQ ? 16 * sub - 1 : 16 * sub + 15) * S::LDG + 16 * nt;
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const int idx = lane + 32 * e, rr = idx / 16, cc = idx % 16;
      const int t = 16 * sub + rr, c = 16 * nt + cc;
      const float b = s.g[t * S::LDG + c];
      s.buf[t * S::LDBUF + c] += w[idx] * __expf(kIsQ ? b - rrow[cc] : rrow[cc] - b);
    }
    __syncwarp();
  }
  __syncthreads();
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
      // The diagonal 16 x 16 sub-blocks, exact (the rest: vector_intra_dqk):
      // dq_tc += sum_{j<=t} dA_tj k_jc e^{b_tc-b_jc}; dk_tc += sum_{u>=t} dA_ut q_uc e^{b_uc-b_tc}
      const float bt = s.g[t * S::LDG + c];
      const int sub0 = t & ~15;
      if constexpr (kIsQ) {
        for (int j = sub0; j <= t; ++j)
          x += s.a[t * S::LDA + j] * __bfloat162float(s.k[j * S::LDQ + c]) * __expf(bt - s.g[j * S::LDG + c]);
      } else {
        for (int u = t; u < sub0 + 16; ++u)
          x += s.a[u * S::LDA + t] * __bfloat162float(s.q[u * S::LDQ + c]) * __expf(s.g[u * S::LDG + c] - bt);
      }
    }
    if (t < rows) out[(row0 + t) * qs + c] = __float2bfloat16(x);
    const float xv = __bfloat162float(self[t * S::LDQ + c]) * x;
    prod[e] = kIsQ ? xv : prod[e] - xv;
  }
}

// Writes the final gate gradient of the chunk's rows: suffix sums of
// q*dq - k*dk over the chunk plus <S1, dS1> (see the top of this file), per
// column (vector) or summed over K (scalar), in a fixed order so results are
// identical run to run. Needs sdot and kdk filled; uses buf and red.
template <int DK, int BV, bool kVec>
__device__ __forceinline__ void write_gate_term(BwdChunkSmem<DK, BV, kVec>& s, const LinearAttnParams& p,
                                                int h, int row0, int rows,
                                                const float (&prod)[C * DK / kThreads]) {
  using S = BwdChunkSmem<DK, BV, kVec>;
  const int H = p.heads, lane = threadIdx.x % 32;
  __syncthreads();  // buf has been read; sdot and kdk are complete
  if constexpr (kVec) {
#pragma unroll
    for (int e = 0; e < C * DK / kThreads; ++e) {
      const int i = threadIdx.x + kThreads * e;
      s.buf[(i / DK) * S::LDBUF + i % DK] = prod[e];
    }
    __syncthreads();
    if (threadIdx.x < DK) {
      const int c = threadIdx.x;
      float acc = s.sdot[c];
#pragma unroll
      for (int part = 0; part < kThreads / DK; ++part) acc += s.kdk[c + DK * part];
      for (int t = C - 1; t >= 0; --t) {
        acc += s.buf[t * S::LDBUF + c];
        if (t < rows) p.dgate[((int64_t)(row0 + t) * H + h) * DK + c] = acc;
      }
    }
  } else {
#pragma unroll
    for (int e = 0; e < C * DK / kThreads; ++e) {
      const int i = threadIdx.x + kThreads * e, t = i / DK, c = i % DK;
      float x = prod[e];
#pragma unroll
      for (int off = 16; off > 0; off /= 2) x += __shfl_xor_sync(0xffffffffu, x, off);
      if (lane == 0) s.red[t * (DK / 32) + c / 32] = x;
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // <S1, dS1> summed over K, then the suffix sums of the 64 row sums:
      // lane l holds rows 2l and 2l + 1.
      float tot = 0.f;
      for (int i = lane; i < DK; i += 32) tot += s.sdot[i];
      for (int i = lane; i < kThreads; i += 32) tot += s.kdk[i];
#pragma unroll
      for (int off = 16; off > 0; off /= 2) tot += __shfl_xor_sync(0xffffffffu, tot, off);
      float x0 = 0.f, x1 = 0.f;
#pragma unroll
      for (int w = 0; w < DK / 32; ++w) {
        x0 += s.red[(2 * lane) * (DK / 32) + w];
        x1 += s.red[(2 * lane + 1) * (DK / 32) + w];
      }
      float suffix = x0 + x1;  // becomes sum over lanes >= this one
#pragma unroll
      for (int off = 1; off < 32; off *= 2) {
        const float y = __shfl_down_sync(0xffffffffu, suffix, off);
        if (lane + off < 32) suffix += y;
      }
      const int t0 = 2 * lane;
      if (t0 < rows) p.dgate[(int64_t)(row0 + t0) * H + h] = tot + suffix;
      if (t0 + 1 < rows) p.dgate[(int64_t)(row0 + t0 + 1) * H + h] = tot + suffix - x0;
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

// Two blocks per multiprocessor where the shared memory allows (scalar, K = 64:
// 108 KB); the rest is bound by registers and shared memory to one.
template <int DK, int BV, bool kVec>
__global__ void __launch_bounds__(kThreads, DK == 64 && !kVec ? 2 : 1) backward_chunks_kernel(LinearAttnParams p) {
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
  float rdot[DK * BV / 4 / kThreads] = {};
  bwd_v_loop<DK, BV, kVec>(s, p, ci, h, row0, rows, dpa, dqa, dka, rdot);
  {  // <S0, dS1> per state row: the BV / 4 lanes of a row hold its partial sums
    constexpr int L = BV / 4;
#pragma unroll
    for (int it = 0; it < DK * BV / 4 / kThreads; ++it) {
      float x = rdot[it];
#pragma unroll
      for (int off = L / 2; off > 0; off /= 2) x += __shfl_xor_sync(0xffffffffu, x, off);
      const int i = threadIdx.x + kThreads * it, r = i / L;
      if (i % L == 0) s.sdot[r] = x * __expf(s.g[(C - 1) * S::LDG + (kVec ? r : 0)]);
    }
  }

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
    }
    s.ab[t * S::LDAB + j] = __float2bfloat16(x);
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
  } else {
    vector_intra_dqk<DK, BV, true>(s);
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
  float kdk = 0.f;  // this thread's column is threadIdx.x % DK
  for (int i = threadIdx.x; i < C * DK; i += kThreads) {
    const int t = i / DK, c = i % DK, gc = kVec ? c : 0;
    const float x = s.buf[t * S::LDBUF + c] * __expf(s.g[(C - 1) * S::LDG + gc] - s.g[t * S::LDG + gc]);
    s.buf[t * S::LDBUF + c] = x;
    kdk += x * __bfloat162float(s.k[t * S::LDQ + c]);
  }
  s.kdk[threadIdx.x] = kdk;
  __syncthreads();
  if constexpr (!kVec) {  // dk += (dP ⊙ M)^T Q
    block_gemm<C, DK, C, wmma::col_major, wmma::row_major>(s.buf, S::LDBUF, s.ab, S::LDAB, s.q, S::LDQ, true);
    __syncthreads();
  } else {
    vector_intra_dqk<DK, BV, false>(s);
  }
  bwd_finish_qk<DK, BV, kVec, false>(s, p, h, row0, rows, prod);

  write_gate_term<DK, BV, kVec>(s, p, h, row0, rows, prod);
}

}  // namespace scalelab::kernels::cuda
