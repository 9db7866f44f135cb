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

// Calls f(row, col, nb, i) for every element acc[nb][i] this thread holds of
// its warp's 16 x 64 slab (rows m0.., columns 0..63); row i / 2 of the two
// slab_rows() (per-row factors belong there, computed once).
template <typename F>
__device__ __forceinline__ void for_each_slab_elem(int m0, F&& f) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
#pragma unroll
  for (int half = 0; half < 2; ++half)
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 2; ++e) f(m0 + g + 8 * half, 8 * nb + 2 * c + e, nb, 2 * half + e);
}

// Calls f(half, row) for the two rows (m0 + g, m0 + g + 8) this thread holds.
template <typename F>
__device__ __forceinline__ void slab_rows(int m0, F&& f) {
  const int g = (threadIdx.x % 32) / 4;
  f(0, m0 + g);
  f(1, m0 + g + 8);
}

// The block's dynamic shared memory as the kernel's tile struct.
template <typename S>
__device__ __forceinline__ S& shared_tiles() {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  return *reinterpret_cast<S*>(smem_raw);
}

// Where a tile block works: chunk ci, the 64-column tile at col0 of the K or
// V dimension (grid x = chunk * tiles + tile), head h.
struct TileBlock {
  int ci, col0, h;
  ChunkRows cr;
  int64_t qs, vs;      // row strides of dense [Ttot, H, K] and [Ttot, H, V] tensors
  int64_t qk_in, v_in;  // of q, k, dq, dk and of v, dv (p.in_stride when set)
};

template <int DK>
__device__ __forceinline__ TileBlock tile_block(const LinearAttnParams& p, int tiles) {
  TileBlock b;
  b.ci = blockIdx.x / tiles;
  b.col0 = 64 * (blockIdx.x % tiles);
  b.h = blockIdx.y;
  b.cr = chunk_rows(p, b.ci);
  b.qs = (int64_t)p.heads * DK;
  b.vs = (int64_t)p.heads * p.head_v;
  b.qk_in = p.in_stride > 0 ? p.in_stride : b.qs;
  b.v_in = p.in_stride > 0 ? p.in_stride : b.vs;
  return b;
}

// Head h's columns of a [Ttot, H, width] tensor, and chunk ci's [K, V] state
// of head h in a [NC, H, K, V] one.
__device__ __forceinline__ const bf16* head_cols(const void* t, int h, int width) {
  return static_cast<const bf16*>(t) + (int64_t)h * width;
}
__device__ __forceinline__ bf16* head_cols(void* t, int h, int width) {
  return static_cast<bf16*>(t) + (int64_t)h * width;
}
// Chunk ci's intra-chunk scores [C, C] of head h in a [NC, H, C, C] tensor.
__device__ __forceinline__ bf16* chunk_scores(void* scores, const LinearAttnParams& p, int ci, int h) {
  return static_cast<bf16*>(scores) + ((int64_t)ci * p.heads + h) * C * C;
}
template <int DK>
__device__ __forceinline__ const bf16* chunk_state(const void* states, const LinearAttnParams& p,
                                                   const TileBlock& b) {
  return static_cast<const bf16*>(states) + ((int64_t)b.ci * p.heads + b.h) * DK * p.head_v;
}

// acc (a warp's 16 x 64 slab) += a (its 16 x 16 A fragment for k0..k0+15)
// times rows k0..k0+15 of B, only for the 16-column blocks np0..np1 (the
// rest are masked out). kKn: B stored [k][n]; else [n][k].
template <bool kKn>
__device__ __forceinline__ void mma_row(float (&acc)[8][4], const unsigned (&a)[4], const bf16* B,
                                        int ldb, int k0, int np0 = 0, int np1 = 3) {
#pragma unroll
  for (int np = 0; np < 4; ++np) {
    if (np < np0 || np > np1) continue;
    unsigned b[4];
    if constexpr (kKn) load_b_kn(b, B, ldb, k0, 16 * np);
    else load_b_nk(b, B, ldb, k0, 16 * np);
    mma_pair(acc, 2 * np, a, b);
  }
}

// Writes the block's 64 x 64 accumulator tile (warp slabs) as bf16 into rows
// of DST from column col0, staged in STAGE (a [C][kLD64] area free once every
// warp is past the leading barrier).
template <int NT>
__device__ __forceinline__ void store_acc_tile(bf16* dst, bf16* stage, const float (&acc)[8][4],
                                               int m0, const ChunkRows& cr, int64_t stride,
                                               int col0) {
  __syncthreads();
  acc_to_smem<kLD64>(stage, acc, m0);
  __syncthreads();
  store_rows_bf16<64, kLD64, NT>(dst, stage, cr.row0, cr.rows, stride, col0);
}

// store_acc_tile of a gradient of q, k or v (PRE: the input's columns): with
// p.silu_inputs the gradient of the pre-activation (dst points into dh).
template <int NT>
__device__ __forceinline__ void store_input_grad(const LinearAttnParams& p, bf16* dst,
                                                 const bf16* pre, bf16* stage,
                                                 const float (&acc)[8][4], int m0,
                                                 const ChunkRows& cr, int64_t stride, int col0) {
  if (!p.silu_inputs) return store_acc_tile<NT>(dst, stage, acc, m0, cr, stride, col0);
  __syncthreads();
  acc_to_smem<kLD64>(stage, acc, m0);
  __syncthreads();
  store_rows_silu_grad<64, kLD64, NT>(dst, pre, stage, cr.row0, cr.rows, stride, col0);
}

// The value loop of the dq/dk kernels (K tile at b.col0): over 64-wide V
// tiles loaded into v, dout, s0, ds1: dP += dO V^T (key blocks up to the
// warp's rows), dQ += dO S0^T, dK += V dS1^T. on_tile() runs after each
// tile's products, while s0 and ds1 still hold it.
template <int DK, int NT, typename OnLoad, typename OnTile>
__device__ __forceinline__ void dqk_value_loop(const LinearAttnParams& p, const TileBlock& b,
                                               bf16* v, bf16* dout, bf16* s0, bf16* ds1,
                                               float (&acc_dp)[8][4], float (&acc_dq)[8][4],
                                               float (&acc_dk)[8][4], OnLoad on_load,
                                               OnTile on_tile) {
  const int warp = threadIdx.x / 32, m0 = 16 * warp, V = p.head_v;
  const int64_t rows0 = (int64_t)b.col0 * V;  // state rows of this K tile
  const bf16* s0g = chunk_state<DK>(p.hchunk, p, b) + rows0;
  const bf16* ds1g = chunk_state<DK>(p.dhchunk, p, b) + rows0;
  for (int col0 = 0; col0 < V; col0 += 64) {
    if (col0 > 0) __syncthreads();  // the previous tiles have been read
    load_rows<64, kLD64, NT>(v, head_cols(p.v, b.h, V), b.cr.row0, b.cr.rows, b.v_in, col0);
    load_rows<64, kLD64, NT>(dout, head_cols(p.dout, b.h, V), b.cr.row0, b.cr.rows, b.vs, col0);
    load_state_tile<64, 64, kLD64, NT>(s0, s0g, V, col0);
    load_state_tile<64, 64, kLD64, NT>(ds1, ds1g, V, col0);
    cp_async_wait();
    on_load(col0);  // this thread's copies have landed: in-place transforms
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      unsigned ado[4], av[4];
      load_a(ado, dout, kLD64, m0, 16 * kk);
      load_a(av, v, kLD64, m0, 16 * kk);
      mma_row<false>(acc_dp, ado, v, kLD64, 16 * kk, 0, warp);
      mma_row<false>(acc_dq, ado, s0, kLD64, 16 * kk);
      mma_row<false>(acc_dk, av, ds1, kLD64, 16 * kk);
    }
    on_tile();
  }
}

// ---------------------------------------------------------------- output

// Shared memory of the output and dv kernels: the chunk's q and k (all DK
// columns), a 64-wide tile x of v (output) or dO (dv), the same columns st of
// S0 (output) or dS1 (dv), and the scalar gate.
template <int DK>
struct QkTiles {
  static constexpr int LDQ = DK + 8;
  bf16 q[C * LDQ], k[C * LDQ], x[C * kLD64], st[DK * kLD64];
  float g[C];
};

// x: v (kXIsInput: row stride b.v_in, through the SiLU with q and k) or dO.
template <int DK, int NT, bool kXIsInput>
__device__ __forceinline__ void load_qk_tiles(QkTiles<DK>& s, const LinearAttnParams& p,
                                              const TileBlock& b, const void* x,
                                              const void* states) {
  using S = QkTiles<DK>;
  const ChunkRows& cr = b.cr;
  const int64_t xs = kXIsInput ? b.v_in : b.vs;
  load_rows<DK, S::LDQ, NT>(s.q, head_cols(p.q, b.h, DK), cr.row0, cr.rows, b.qk_in, 0);
  load_rows<DK, S::LDQ, NT>(s.k, head_cols(p.k, b.h, DK), cr.row0, cr.rows, b.qk_in, 0);
  load_rows<64, kLD64, NT>(s.x, head_cols(x, b.h, p.head_v), cr.row0, cr.rows, xs, b.col0);
  load_state_tile<DK, 64, kLD64, NT>(s.st, chunk_state<DK>(states, p, b), p.head_v, b.col0);
  load_gate<1, 1, NT>(s.g, p.gcum + b.h, cr.row0, cr.rows, p.heads);
  cp_async_wait();
  if (p.silu_inputs) {
    silu_rows<DK, S::LDQ, NT>(s.q);
    silu_rows<DK, S::LDQ, NT>(s.k);
    if (kXIsInput) silu_rows<64, kLD64, NT>(s.x);
  }
  __syncthreads();
}

// Grid (chunks x V/64, heads).
template <int DK>
__global__ void __launch_bounds__(kTileThreads) scalar_output_kernel(LinearAttnParams p) {
  using S = QkTiles<DK>;
  constexpr int NT = kTileThreads;
  S& s = shared_tiles<S>();
  const TileBlock b = tile_block<DK>(p, p.head_v / 64);
  load_qk_tiles<DK, NT, true>(s, p, b, p.v, p.hchunk);
  const int warp = threadIdx.x / 32, m0 = 16 * warp;
  float acc_a[8][4] = {}, acc_o[8][4] = {};
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) {
    unsigned a[4];
    load_a(a, s.q, S::LDQ, m0, 16 * kk);
    mma_row<false>(acc_a, a, s.k, S::LDQ, 16 * kk, 0, warp);  // keys after the rows: masked
    mma_row<true>(acc_o, a, s.st, kLD64, 16 * kk);
  }
  float bt[2], qf[2];  // the gate of the thread's two rows, and scale e^b there
  slab_rows(m0, [&](int half, int t) {
    bt[half] = s.g[t], qf[half] = p.scale * decay_exp(s.g[t]);
  });
  for_each_slab_elem(m0, [&](int t, int j, int nb, int i) {
    acc_a[nb][i] = j <= t ? acc_a[nb][i] * p.scale * decay_exp(bt[i / 2] - s.g[j]) : 0.f;
    acc_o[nb][i] *= qf[i / 2];
  });
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk > warp) continue;
    unsigned a[4];
    acc_to_a(a, acc_a, kk);
    mma_row<true>(acc_o, a, s.x, kLD64, 16 * kk);
  }
  store_acc_tile<NT>(head_cols(p.o, b.h, p.head_v), s.q, acc_o, m0, b.cr, b.vs, b.col0);
}

// ---------------------------------------------------------------- dv

// Grid (chunks x V/64, heads). Warps own key rows j.
template <int DK>
__global__ void __launch_bounds__(kTileThreads) scalar_dv_kernel(LinearAttnParams p) {
  using S = QkTiles<DK>;
  constexpr int NT = kTileThreads;
  S& s = shared_tiles<S>();
  const TileBlock b = tile_block<DK>(p, p.head_v / 64);
  load_qk_tiles<DK, NT, false>(s, p, b, p.dout, p.dhchunk);
  const int warp = threadIdx.x / 32, m0 = 16 * warp;
  float acc_p[8][4] = {}, acc_dv[8][4] = {};  // A^T rows j, and dv
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) {
    unsigned a[4];
    load_a(a, s.k, S::LDQ, m0, 16 * kk);
    mma_row<false>(acc_p, a, s.q, S::LDQ, 16 * kk, warp, 3);  // queries before the keys: masked
    mma_row<true>(acc_dv, a, s.st, kLD64, 16 * kk);
  }
  float bj[2], kf[2];  // the gate of the thread's two key rows, and e^{bC - b} there
  slab_rows(m0, [&](int half, int j) {
    bj[half] = s.g[j], kf[half] = decay_exp(s.g[C - 1] - s.g[j]);
  });
  for_each_slab_elem(m0, [&](int j, int t, int nb, int i) {  // rows are keys here
    acc_p[nb][i] = t >= j ? acc_p[nb][i] * p.scale * decay_exp(s.g[t] - bj[i / 2]) : 0.f;
    acc_dv[nb][i] *= kf[i / 2];
  });
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk < warp) continue;
    unsigned a[4];
    acc_to_a(a, acc_p, kk);
    mma_row<true>(acc_dv, a, s.x, kLD64, 16 * kk);
  }
  store_input_grad<NT>(p, head_cols(p.dv, b.h, p.head_v), head_cols(p.v, b.h, p.head_v), s.q,
                       acc_dv, m0, b.cr, b.v_in, b.col0);
}

// ---------------------------------------------------------------- dq, dk, dg

struct DqkTiles {
  bf16 q[C * kLD64], k[C * kLD64], v[C * kLD64], dout[C * kLD64];
  bf16 s0[64 * kLD64], ds1[64 * kLD64], da[C * kLD64];
  float g[C];
  float rowsum[C];
  float red[2][kTileWarps];
};

// Grid (chunks x K/64, heads): one 64-column tile of dq and dk; the value
// loop accumulates dP, dO S0^T and V dS1^T over the whole value width.
template <int DK>
__global__ void __launch_bounds__(kTileThreads) scalar_dqk_kernel(LinearAttnParams p) {
  using S = DqkTiles;
  constexpr int NT = kTileThreads;
  S& s = shared_tiles<S>();
  const TileBlock b = tile_block<DK>(p, DK / 64);
  const ChunkRows& cr = b.cr;
  const int H = p.heads;
  load_rows<64, kLD64, NT>(s.q, head_cols(p.q, b.h, DK), cr.row0, cr.rows, b.qk_in, b.col0);
  load_rows<64, kLD64, NT>(s.k, head_cols(p.k, b.h, DK), cr.row0, cr.rows, b.qk_in, b.col0);
  load_gate<1, 1, NT>(s.g, p.gcum + b.h, cr.row0, cr.rows, H);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int m0 = 16 * warp;
  float acc_dp[8][4] = {}, acc_dq[8][4] = {}, acc_dk[8][4] = {};
  float sdot = 0.f;  // this thread's share of <S0, dS1> over the tile
  auto on_load = [&](int vcol0) {  // q and k landed with the first value tile
    if (!p.silu_inputs) return;
    silu_rows<64, kLD64, NT>(s.v);
    if (vcol0 == 0) {
      silu_rows<64, kLD64, NT>(s.q);
      silu_rows<64, kLD64, NT>(s.k);
    }
  };
  dqk_value_loop<DK, NT>(p, b, s.v, s.dout, s.s0, s.ds1, acc_dp, acc_dq, acc_dk, on_load, [&] {
    for (int i = threadIdx.x; i < 64 * 32; i += NT) {
      const int r = i / 32, cc = 2 * (i % 32);
      const float2 x = unpack_bf16x2(*reinterpret_cast<const unsigned*>(s.s0 + r * kLD64 + cc));
      const float2 y = unpack_bf16x2(*reinterpret_cast<const unsigned*>(s.ds1 + r * kLD64 + cc));
      sdot += x.x * y.x + x.y * y.y;
    }
  });

  // dA (scaled, decayed, masked); the inter parts of dq and dk get their
  // row factors; kdk collects k . dk_inter for <S1, dS1>.
  const float bc = s.g[C - 1];
  float kdk = 0.f;
  float bt[2], qf[2], kf[2];  // per row of the thread: b, scale e^b, e^{bC - b}
  slab_rows(m0, [&](int half, int t) {
    bt[half] = s.g[t], qf[half] = p.scale * decay_exp(s.g[t]), kf[half] = decay_exp(bc - s.g[t]);
  });
  for_each_slab_elem(m0, [&](int t, int j, int nb, int i) {  // j: a key (dP) or a column
    acc_dp[nb][i] = j <= t ? acc_dp[nb][i] * p.scale * decay_exp(bt[i / 2] - s.g[j]) : 0.f;
    acc_dq[nb][i] *= qf[i / 2];
    acc_dk[nb][i] *= kf[i / 2];
    kdk += acc_dk[nb][i] * __bfloat162float(s.k[t * kLD64 + j]);
  });
  acc_to_smem<kLD64>(s.da, acc_dp, m0);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // dq += dA K
    if (kk > warp) continue;
    unsigned a[4];
    acc_to_a(a, acc_dp, kk);
    mma_row<true>(acc_dq, a, s.k, kLD64, 16 * kk);
  }
  __syncthreads();  // dA complete
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // dk += dA^T Q
    if (kk < warp) continue;
    unsigned a[4];
    load_a_t(a, s.da, kLD64, m0, 16 * kk);
    mma_row<true>(acc_dk, a, s.q, kLD64, 16 * kk);
  }

  // Gate: per row, q . dq - k . dk over this tile's columns.
  float rs[2] = {0.f, 0.f};
  for_each_slab_elem(m0, [&](int t, int cc, int nb, int i) {
    rs[i / 2] += __bfloat162float(s.q[t * kLD64 + cc]) * acc_dq[nb][i] -
                 __bfloat162float(s.k[t * kLD64 + cc]) * acc_dk[nb][i];
  });
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    rs[half] += __shfl_xor_sync(0xffffffffu, rs[half], 1);
    rs[half] += __shfl_xor_sync(0xffffffffu, rs[half], 2);
    if (c == 0) {
      const int t = m0 + g + 8 * half;
      float extra = 0.f;
      if (p.dg_extra != nullptr && b.col0 == 0 && t < cr.rows)
        extra = p.dg_extra[(int64_t)(cr.row0 + t) * H + b.h];
      s.rowsum[t] = rs[half] + extra;
    }
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
  if (p.dk_extra != nullptr) {
    const float* ex = p.dk_extra + (int64_t)cr.row0 * b.qs + (int64_t)b.h * DK + b.col0;
    for_each_slab_elem(m0, [&](int t, int j, int nb, int i) {
      if (t < cr.rows) acc_dk[nb][i] += ex[(int64_t)t * b.qs + j];
    });
  }
  // The stores' leading barriers also publish rowsum and red.
  store_input_grad<NT>(p, head_cols(p.dq, b.h, DK), head_cols(p.q, b.h, DK), s.v, acc_dq, m0, cr,
                       b.qk_in, b.col0);
  store_input_grad<NT>(p, head_cols(p.dk, b.h, DK), head_cols(p.k, b.h, DK), s.dout, acc_dk, m0,
                       cr, b.qk_in, b.col0);
  if (warp == 0) {
    // <S1, dS1> = e^{bC} <S0, dS1> + sum k . dk_inter, then suffix sums of
    // the row terms; lane l holds rows 2l and 2l + 1.
    float tot = 0.f;
#pragma unroll
    for (int w = 0; w < kTileWarps; ++w) tot += s.red[0][w] * decay_exp(bc) + s.red[1][w];
    const float x0 = s.rowsum[2 * lane], x1 = s.rowsum[2 * lane + 1];
    float suffix = x0 + x1;
#pragma unroll
    for (int off = 1; off < 32; off *= 2) {
      const float y = __shfl_down_sync(0xffffffffu, suffix, off);
      if (lane + off < 32) suffix += y;
    }
    const int t0 = 2 * lane;
    float* dg = p.dgate + (int64_t)cr.row0 * H + b.h;
    if constexpr (DK == 64) {
      if (t0 < cr.rows) dg[(int64_t)t0 * H] = tot + suffix;
      if (t0 + 1 < cr.rows) dg[(int64_t)(t0 + 1) * H] = tot + suffix - x0;
    } else {
      if (t0 < cr.rows) atomicAdd(dg + (int64_t)t0 * H, tot + suffix);
      if (t0 + 1 < cr.rows) atomicAdd(dg + (int64_t)(t0 + 1) * H, tot + suffix - x0);
    }
  }
}

}  // namespace scalelab::kernels::cuda
