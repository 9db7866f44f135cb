// The parallel part of the chunked algorithm for scalar decay, as small
// register-resident tile programs (flash-attention style): 4 warps, each owns
// 16 rows of a 64-row chunk, accumulators stay in mma.sync registers and an
// accumulator becomes the A operand of the next product without a trip
// through shared memory. Per block ~60 KB of shared memory and ~130
// registers a thread, so 3-4 blocks share a multiprocessor and hide each
// other's load latency (the fused 8-warp kernels they replace fit one).
//
//   output (V tile):  O = A V + scale (Q ⊙ e^b) S0
//   dv     (V tile):  dv = A^T dO + (K ⊙ e^{bC - b}) dS1
//   dqk    (K tile):  dP = dO V^T, dA = scale dP ⊙ e^{b_t - b_j} (j <= t),
//                     dq = dA K + scale e^{b_t} dO S0^T,
//                     dk = dA^T Q + e^{bC - b_j} V dS1^T,
//                     and the gate gradient of the chunk's rows
// with A = scale (Q K^T ⊙ e^{b_t - b_j}) masked to j <= t, recomputed where
// needed.
//
// Gate gradient. Scaling q by e^e and k, S0 by e^-e over one chunk leaves its
// outputs unchanged and scales S1 by e^-e, so sum_{t in chunk}(q.dq - k.dk)
// = <S0, dS0> - <S1, dS1>; summed over the later chunks this telescopes, and
// the gradient of the log decay g_s (s in chunk c) is
//   dg_s = sum_{t >= s in c} (q_t.dq_t - k_t.dk_t) + <S1_c, dS1_c>
// (per key column for vector decay; the final state's dht term included),
// with <S1, dS1> = e^{bC} <S0, dS1> + sum_t k_t.dk_t^inter. Each block
// finishes its own rows: no sequence-long reverse cumsum, whose rounding
// errors grow with T, and the states need only bf16 precision here. With
// K = 128 split in two 64-column tiles, each tile adds its share into a
// zeroed dgate (a + b added to zero in either order is the same float, so the
// result is deterministic).
#pragma once

#include "kernels/common/la_device.cuh"
#include "kernels/common/la_mma.cuh"

namespace scalelab::kernels::cuda {

inline constexpr int kTileWarps = 4;
inline constexpr int kTileThreads = 32 * kTileWarps;
inline constexpr int kLD64 = 64 + 8;  // row stride of 64-wide bf16 tiles (ldmatrix conflict-free)

struct ChunkRows {
  int row0, rows;
};

__device__ __forceinline__ ChunkRows chunk_rows(const LinearAttnParams& p, int ci) {
  const Seq sq = seq_of(p, seq_of_chunk(p, ci));
  const int row0 = sq.bos + (ci - sq.chunk0) * C;
  return {row0, min(C, sq.eos - row0)};
}

// A warp's 16 x 64 accumulator slab (rows m0..) -> bf16 smem tile [C][LD].
template <int LD>
__device__ __forceinline__ void acc_to_smem(bf16* dst, const float (&acc)[8][4], int m0) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
#pragma unroll
  for (int nb = 0; nb < 8; ++nb) {
    *reinterpret_cast<__nv_bfloat162*>(dst + (m0 + g) * LD + 8 * nb + 2 * c) =
        __floats2bfloat162_rn(acc[nb][0], acc[nb][1]);
    *reinterpret_cast<__nv_bfloat162*>(dst + (m0 + g + 8) * LD + 8 * nb + 2 * c) =
        __floats2bfloat162_rn(acc[nb][2], acc[nb][3]);
  }
}

// ---------------------------------------------------------------- output

template <int DK>
struct OutTiles {
  static constexpr int LDQ = DK + 8;
  bf16 q[C * LDQ], k[C * LDQ], v[C * kLD64], s0[DK * kLD64];
  float g[C];
};

// Grid (chunks x V/64, heads).
template <int DK>
__global__ void __launch_bounds__(kTileThreads) scalar_output_kernel(LinearAttnParams p) {
  using S = OutTiles<DK>;
  constexpr int NT = kTileThreads;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int nvt = p.head_v / 64, ci = blockIdx.x / nvt, col0 = 64 * (blockIdx.x % nvt);
  const int h = blockIdx.y, H = p.heads, V = p.head_v;
  const ChunkRows cr = chunk_rows(p, ci);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V;
  load_rows<DK, S::LDQ, NT>(s.q, static_cast<const bf16*>(p.q) + h * DK, cr.row0, cr.rows, qs, 0);
  load_rows<DK, S::LDQ, NT>(s.k, static_cast<const bf16*>(p.k) + h * DK, cr.row0, cr.rows, qs, 0);
  load_rows<64, kLD64, NT>(s.v, static_cast<const bf16*>(p.v) + h * V, cr.row0, cr.rows, vs, col0);
  load_state_tile<DK, 64, kLD64, NT>(
      s.s0, static_cast<const bf16*>(p.hchunk) + ((int64_t)ci * H + h) * DK * V, V, col0);
  load_gate<1, 1, NT>(s.g, p.gcum + h, cr.row0, cr.rows, H);
  cp_async_wait();
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int m0 = 16 * warp;
  float acc_a[8][4] = {}, acc_o[8][4] = {};
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) {
    unsigned a[4], b[4];
    load_a(a, s.q, S::LDQ, m0, 16 * kk);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      if (np <= warp) {  // key blocks after the warp's rows are masked out
        load_b_nk(b, s.k, S::LDQ, 16 * kk, 16 * np);
        mma_pair(acc_a, 2 * np, a, b);
      }
      load_b_kn(b, s.s0, kLD64, 16 * kk, 16 * np);
      mma_pair(acc_o, 2 * np, a, b);
    }
  }
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int t = m0 + g + 8 * half;
    const float bt = s.g[t], qf = p.scale * __expf(bt);
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int j = 8 * nb + 2 * c + e;
        float& x = acc_a[nb][2 * half + e];
        x = j <= t ? x * p.scale * __expf(bt - s.g[j]) : 0.f;
        acc_o[nb][2 * half + e] *= qf;
      }
  }
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk > warp) continue;
    unsigned a[4], b[4];
    acc_to_a(a, acc_a, kk);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      load_b_kn(b, s.v, kLD64, 16 * kk, 16 * np);
      mma_pair(acc_o, 2 * np, a, b);
    }
  }
  __syncthreads();  // q is free: the output tile is staged there
  acc_to_smem<kLD64>(s.q, acc_o, m0);
  __syncthreads();
  store_rows_bf16<64, kLD64, NT>(static_cast<bf16*>(p.o) + h * V, s.q, cr.row0, cr.rows, vs, col0);
}

// ---------------------------------------------------------------- dv

template <int DK>
struct DvTiles {
  static constexpr int LDQ = DK + 8;
  bf16 q[C * LDQ], k[C * LDQ], dout[C * kLD64], ds1[DK * kLD64];
  float g[C];
};

// Grid (chunks x V/64, heads). Warps own key rows j.
template <int DK>
__global__ void __launch_bounds__(kTileThreads) scalar_dv_kernel(LinearAttnParams p) {
  using S = DvTiles<DK>;
  constexpr int NT = kTileThreads;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int nvt = p.head_v / 64, ci = blockIdx.x / nvt, col0 = 64 * (blockIdx.x % nvt);
  const int h = blockIdx.y, H = p.heads, V = p.head_v;
  const ChunkRows cr = chunk_rows(p, ci);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V;
  load_rows<DK, S::LDQ, NT>(s.q, static_cast<const bf16*>(p.q) + h * DK, cr.row0, cr.rows, qs, 0);
  load_rows<DK, S::LDQ, NT>(s.k, static_cast<const bf16*>(p.k) + h * DK, cr.row0, cr.rows, qs, 0);
  load_rows<64, kLD64, NT>(s.dout, static_cast<const bf16*>(p.dout) + h * V, cr.row0, cr.rows, vs,
                           col0);
  load_state_tile<DK, 64, kLD64, NT>(
      s.ds1, static_cast<const bf16*>(p.dhchunk) + ((int64_t)ci * H + h) * DK * V, V, col0);
  load_gate<1, 1, NT>(s.g, p.gcum + h, cr.row0, cr.rows, H);
  cp_async_wait();
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int m0 = 16 * warp;
  float acc_p[8][4] = {}, acc_dv[8][4] = {};  // A^T rows j, and dv
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) {
    unsigned a[4], b[4];
    load_a(a, s.k, S::LDQ, m0, 16 * kk);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      if (np >= warp) {  // query blocks before the warp's keys are masked out
        load_b_nk(b, s.q, S::LDQ, 16 * kk, 16 * np);
        mma_pair(acc_p, 2 * np, a, b);
      }
      load_b_kn(b, s.ds1, kLD64, 16 * kk, 16 * np);
      mma_pair(acc_dv, 2 * np, a, b);
    }
  }
  const float bc = s.g[C - 1];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int j = m0 + g + 8 * half;
    const float bj = s.g[j], kf = __expf(bc - bj);
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int t = 8 * nb + 2 * c + e;
        float& x = acc_p[nb][2 * half + e];
        x = t >= j ? x * p.scale * __expf(s.g[t] - bj) : 0.f;
        acc_dv[nb][2 * half + e] *= kf;
      }
  }
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk < warp) continue;
    unsigned a[4], b[4];
    acc_to_a(a, acc_p, kk);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      load_b_kn(b, s.dout, kLD64, 16 * kk, 16 * np);
      mma_pair(acc_dv, 2 * np, a, b);
    }
  }
  __syncthreads();
  acc_to_smem<kLD64>(s.q, acc_dv, m0);
  __syncthreads();
  store_rows_bf16<64, kLD64, NT>(static_cast<bf16*>(p.dv) + h * V, s.q, cr.row0, cr.rows, vs, col0);
}

// ---------------------------------------------------------------- dq, dk, dg

struct DqkTiles {
  bf16 q[C * kLD64], k[C * kLD64], v[C * kLD64], dout[C * kLD64];
  bf16 s0[64 * kLD64], ds1[64 * kLD64], da[C * kLD64];
  float g[C];
  float rowsum[C];
  float red[2][kTileWarps];
};

// Grid (chunks x K/64, heads): one 64-column tile of dq and dk; the V loop
// accumulates dP, dO S0^T and V dS1^T over the whole value width.
template <int DK>
__global__ void __launch_bounds__(kTileThreads) scalar_dqk_kernel(LinearAttnParams p) {
  using S = DqkTiles;
  constexpr int NT = kTileThreads;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int nkt = DK / 64, ci = blockIdx.x / nkt, c0 = 64 * (blockIdx.x % nkt);
  const int h = blockIdx.y, H = p.heads, V = p.head_v;
  const ChunkRows cr = chunk_rows(p, ci);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V;
  load_rows<64, kLD64, NT>(s.q, static_cast<const bf16*>(p.q) + h * DK, cr.row0, cr.rows, qs, c0);
  load_rows<64, kLD64, NT>(s.k, static_cast<const bf16*>(p.k) + h * DK, cr.row0, cr.rows, qs, c0);
  load_gate<1, 1, NT>(s.g, p.gcum + h, cr.row0, cr.rows, H);
  const int64_t st = ((int64_t)ci * H + h) * DK * V + (int64_t)c0 * V;  // state rows c0..
  const bf16* s0 = static_cast<const bf16*>(p.hchunk) + st;
  const bf16* ds1 = static_cast<const bf16*>(p.dhchunk) + st;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int m0 = 16 * warp;
  float acc_dp[8][4] = {}, acc_dq[8][4] = {}, acc_dk[8][4] = {};
  float sdot = 0.f;  // this thread's share of <S0, dS1> over the tile
  for (int col0 = 0; col0 < V; col0 += 64) {
    if (col0 > 0) __syncthreads();  // the previous tiles have been read
    load_rows<64, kLD64, NT>(s.v, static_cast<const bf16*>(p.v) + h * V, cr.row0, cr.rows, vs, col0);
    load_rows<64, kLD64, NT>(s.dout, static_cast<const bf16*>(p.dout) + h * V, cr.row0, cr.rows,
                             vs, col0);
    load_state_tile<64, 64, kLD64, NT>(s.s0, s0, V, col0);
    load_state_tile<64, 64, kLD64, NT>(s.ds1, ds1, V, col0);
    cp_async_wait();
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      unsigned ado[4], av[4], b[4];
      load_a(ado, s.dout, kLD64, m0, 16 * kk);
      load_a(av, s.v, kLD64, m0, 16 * kk);
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        if (np <= warp) {
          load_b_nk(b, s.v, kLD64, 16 * kk, 16 * np);
          mma_pair(acc_dp, 2 * np, ado, b);
        }
        load_b_nk(b, s.s0, kLD64, 16 * kk, 16 * np);
        mma_pair(acc_dq, 2 * np, ado, b);
        load_b_nk(b, s.ds1, kLD64, 16 * kk, 16 * np);
        mma_pair(acc_dk, 2 * np, av, b);
      }
    }
    for (int i = threadIdx.x; i < 64 * 32; i += NT) {
      const int r = i / 32, cc = 2 * (i % 32);
      const float2 x = unpack_bf16x2(*reinterpret_cast<const unsigned*>(s.s0 + r * kLD64 + cc));
      const float2 y = unpack_bf16x2(*reinterpret_cast<const unsigned*>(s.ds1 + r * kLD64 + cc));
      sdot += x.x * y.x + x.y * y.y;
    }
  }

  // dA (scaled, decayed, masked); the inter parts of dq and dk get their
  // row factors; kdk collects k . dk_inter for <S1, dS1>.
  const float bc = s.g[C - 1];
  float kdk = 0.f;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int t = m0 + g + 8 * half;
    const float bt = s.g[t], qf = p.scale * __expf(bt), kf = __expf(bc - bt);
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int j = 8 * nb + 2 * c + e, i = 2 * half + e;
        acc_dp[nb][i] = j <= t ? acc_dp[nb][i] * p.scale * __expf(bt - s.g[j]) : 0.f;
        acc_dq[nb][i] *= qf;
        acc_dk[nb][i] *= kf;
        kdk += acc_dk[nb][i] * __bfloat162float(s.k[t * kLD64 + j]);
      }
  }
  acc_to_smem<kLD64>(s.da, acc_dp, m0);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // dq += dA K
    if (kk > warp) continue;
    unsigned a[4], b[4];
    acc_to_a(a, acc_dp, kk);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      load_b_kn(b, s.k, kLD64, 16 * kk, 16 * np);
      mma_pair(acc_dq, 2 * np, a, b);
    }
  }
  __syncthreads();  // dA complete
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // dk += dA^T Q
    if (kk < warp) continue;
    unsigned a[4], b[4];
    load_a_t(a, s.da, kLD64, m0, 16 * kk);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      load_b_kn(b, s.q, kLD64, 16 * kk, 16 * np);
      mma_pair(acc_dk, 2 * np, a, b);
    }
  }

  // Gate: per row, q . dq - k . dk over this tile's columns.
  float rs[2] = {0.f, 0.f};
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int t = m0 + g + 8 * half;
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int cc = 8 * nb + 2 * c + e, i = 2 * half + e;
        rs[half] += __bfloat162float(s.q[t * kLD64 + cc]) * acc_dq[nb][i] -
                    __bfloat162float(s.k[t * kLD64 + cc]) * acc_dk[nb][i];
      }
  }
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    rs[half] += __shfl_xor_sync(0xffffffffu, rs[half], 1);
    rs[half] += __shfl_xor_sync(0xffffffffu, rs[half], 2);
    if (c == 0) s.rowsum[m0 + g + 8 * half] = rs[half];
  }
#pragma unroll
  for (int off = 16; off > 0; off /= 2) {
    sdot += __shfl_xor_sync(0xffffffffu, sdot, off);
    kdk += __shfl_xor_sync(0xffffffffu, kdk, off);
  }
  if (lane == 0) {
    s.red[0][warp] = sdot;
    s.red[1][warp] = kdk;
  }
  __syncthreads();  // rowsum, red; v and dout are free for staging
  acc_to_smem<kLD64>(s.v, acc_dq, m0);
  acc_to_smem<kLD64>(s.dout, acc_dk, m0);
  if (warp == 0) {
    // <S1, dS1> = e^{bC} <S0, dS1> + sum k . dk_inter, then suffix sums of
    // the row terms; lane l holds rows 2l and 2l + 1.
    float tot = 0.f;
#pragma unroll
    for (int w = 0; w < kTileWarps; ++w) tot += s.red[0][w] * __expf(bc) + s.red[1][w];
    const float x0 = s.rowsum[2 * lane], x1 = s.rowsum[2 * lane + 1];
    float suffix = x0 + x1;
#pragma unroll
    for (int off = 1; off < 32; off *= 2) {
      const float y = __shfl_down_sync(0xffffffffu, suffix, off);
      if (lane + off < 32) suffix += y;
    }
    const int t0 = 2 * lane;
    float* dg = p.dgate + (int64_t)cr.row0 * H + h;
    if constexpr (DK == 64) {
      if (t0 < cr.rows) dg[(int64_t)t0 * H] = tot + suffix;
      if (t0 + 1 < cr.rows) dg[(int64_t)(t0 + 1) * H] = tot + suffix - x0;
    } else {
      if (t0 < cr.rows) atomicAdd(dg + (int64_t)t0 * H, tot + suffix);
      if (t0 + 1 < cr.rows) atomicAdd(dg + (int64_t)(t0 + 1) * H, tot + suffix - x0);
    }
  }
  __syncthreads();
  store_rows_bf16<64, kLD64, NT>(static_cast<bf16*>(p.dq) + h * DK, s.v, cr.row0, cr.rows, qs, c0);
  store_rows_bf16<64, kLD64, NT>(static_cast<bf16*>(p.dk) + h * DK, s.dout, cr.row0, cr.rows, qs, c0);
}

}  // namespace scalelab::kernels::cuda
