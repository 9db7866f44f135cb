// CUDA kernels of the chunked gated delta rule (see gdn_params.cuh for the
// per-chunk algebra), built from the linear-attention tile machinery
// (kernels/common: mma.sync m16n8k16 fragments, cp.async tile loads, the
// 4-warp tile layout where each warp owns 16 rows of a 64-row chunk).
//
// Forward:  chunk cumsum of g (la_common.cu)
//           -> gdn_prep_kernel      per (chunk, head): T by forward
//                                   substitution in fp32, W and U on tensor cores
//           -> gdn_scan_fwd_kernel  per (sequence, head, V tile), sequential:
//                                   u = U - W S, S' = e^{b_L} S + (K ⊙ e^{b_L-b})^T u
//           -> scalar_output_kernel (la_tiles.cuh) with v = u.
// Backward: gdn_dv_local_kernel    du_local = (scale Q K^T ⊙ Gamma)^T dO
//           -> gdn_scan_bwd_kernel  reverse, sequential: du = du_local +
//                                   (K ⊙ e^{b_L-b}) dS', dS = e^{b_L} dS' +
//                                   scale (Q ⊙ e^b)^T dO - W^T du
//           -> gdn_wy_bwd_kernel    per (chunk, head): dW = -du S^T, dT, dM =
//                                   -T^T dT T^T, then dv, dbeta and the WY
//                                   shares of dk and of the gate gradient
//           -> scalar_dqk_kernel (la_tiles.cuh) with v = u: dq, dk and dg
//                                   (adding the WY shares before rounding).
// Every sum is in a fixed order (no float atomics except the two-term,
// order-free K = 128 gate tiles of scalar_dqk_kernel), so results are
// bitwise reproducible.
#pragma once

#include "kernels/common/la_kernels.cuh"
#include "kernels/delta_rule/gdn_params.cuh"

namespace scalelab::kernels::cuda {

// ---------------------------------------------------------------- shared

// Loads beta of a chunk's rows (0 past the end) into smem.
__device__ __forceinline__ void load_beta(float* dst, const float* beta, int64_t row0, int rows,
                                          int H, int h) {
  for (int r = threadIdx.x; r < C; r += kTileThreads)
    dst[r] = r < rows ? beta[(row0 + r) * H + h] : 0.f;
}

// Chunk ci's T [C, C] of head h.
__device__ __forceinline__ bf16* chunk_tinv(void* t, const LinearAttnParams& p, int ci, int h) {
  return static_cast<bf16*>(t) + ((int64_t)ci * p.heads + h) * C * C;
}

// Sums over the four lanes (c = 0..3) that share a fragment row.
__device__ __forceinline__ float row_reduce(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  x += __shfl_xor_sync(0xffffffffu, x, 2);
  return x;
}

// ---------------------------------------------------------------- prep

template <int DK>
struct PrepTiles {
  static constexpr int LDK = DK + 8, LDM = C + 4;  // 16-byte rows: float4 loads
  bf16 k[C * LDK];   // k, then beta e^b k in place
  bf16 x[C * kLD64];  // a v tile, then beta v in place
  bf16 t[C * kLD64];  // T
  bf16 stage[C * kLD64];
  float m[C * LDM];  // strictly lower beta_t e^{b_t - b_j} k_t.k_j
  float g[C], beta[C];
};

// Grid (chunks, heads).
template <int DK>
__global__ void __launch_bounds__(kTileThreads) gdn_prep_kernel(GdnParams gp) {
  using S = PrepTiles<DK>;
  constexpr int NT = kTileThreads;
  const LinearAttnParams& p = gp.la;
  S& s = shared_tiles<S>();
  const int ci = blockIdx.x, h = blockIdx.y, H = p.heads, V = p.head_v;
  const ChunkRows cr = chunk_rows(p, ci);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V;
  load_rows<DK, S::LDK, NT>(s.k, head_cols(p.k, h, DK), cr.row0, cr.rows, qs, 0);
  load_rows<64, kLD64, NT>(s.x, head_cols(p.v, h, V), cr.row0, cr.rows, vs, 0);  // U's first tile
  load_gate<1, 1, NT>(s.g, p.gcum + h, cr.row0, cr.rows, H);
  load_beta(s.beta, gp.beta, cr.row0, cr.rows, H, h);
  cp_async_wait();
  __syncthreads();

  const int warp = threadIdx.x / 32, m0 = 16 * warp;
  {
    float acc[8][4] = {};
#pragma unroll
    for (int kk = 0; kk < DK / 16; ++kk) {
      unsigned a[4];
      load_a(a, s.k, S::LDK, m0, 16 * kk);
      mma_row<false>(acc, a, s.k, S::LDK, 16 * kk, 0, warp);
    }
    for_each_slab_elem(m0, [&](int t, int j, int nb, int i) {
      s.m[t * S::LDM + j] = j < t ? acc[nb][i] * s.beta[t] * decay_exp(s.g[t] - s.g[j]) : 0.f;
    });
  }
  __syncthreads();
  if (threadIdx.x < C) {
    // Column c of T = (I + M)^{-1} by forward substitution, in fp32; every
    // thread reads the same M entry at once (a shared-memory broadcast).
    const int c = threadIdx.x;
    float x[C];
#pragma unroll
    for (int i = 0; i < C; ++i) x[i] = 0.f;
#pragma unroll
    for (int i = 0; i < C; ++i) {
      // Four partial sums in a fixed order (a quarter of the dependent
      // chain), M read four entries at a time: M[i][j] = 0 and x[j] = 0 for
      // the j >= i a group of four may include.
      float acc[4] = {i == c ? 1.f : 0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int j = 0; j < i; j += 4) {
        const float4 m4 = *reinterpret_cast<const float4*>(s.m + i * S::LDM + j);
        acc[0] -= m4.x * x[j];
        acc[1] -= m4.y * x[j + 1];
        acc[2] -= m4.z * x[j + 2];
        acc[3] -= m4.w * x[j + 3];
      }
      x[i] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
#pragma unroll
    for (int i = 0; i < C; ++i) s.t[i * kLD64 + c] = __float2bfloat16_rn(x[i]);
  } else {
    // Meanwhile the other warps fold beta e^b into the keys.
    for (int i = threadIdx.x - C; i < C * DK; i += NT - C) {
      const int r = i / DK, cc = i % DK;
      const float f = s.beta[r] * decay_exp(s.g[r]);
      s.k[r * S::LDK + cc] = __float2bfloat16_rn(__bfloat162float(s.k[r * S::LDK + cc]) * f);
    }
  }
  __syncthreads();
  {
    bf16* tg = chunk_tinv(gp.tinv, p, ci, h);
    for (int i = threadIdx.x; i < C * 8; i += NT) {
      const int r = i / 8, cc = 8 * (i % 8);
      *reinterpret_cast<uint4*>(tg + r * C + cc) = *reinterpret_cast<const uint4*>(s.t + r * kLD64 + cc);
    }
  }
  // W = T (beta e^b K), one 64-column tile at a time; T is lower triangular.
#pragma unroll
  for (int ct = 0; ct < DK / 64; ++ct) {
    float acc[8][4] = {};
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      if (kk > warp) continue;
      unsigned a[4];
      load_a(a, s.t, kLD64, m0, 16 * kk);
      mma_row<true>(acc, a, s.k + 64 * ct, S::LDK, 16 * kk);
    }
    store_acc_tile<NT>(head_cols(gp.w, h, DK), s.stage, acc, m0, cr, qs, 64 * ct);
  }
  // U = T (beta V).
  for (int col0 = 0; col0 < V; col0 += 64) {
    if (col0 > 0) {  // the first tile came with k
      __syncthreads();
      load_rows<64, kLD64, NT>(s.x, head_cols(p.v, h, V), cr.row0, cr.rows, vs, col0);
      cp_async_wait();
    }
    __syncthreads();
    for (int i = threadIdx.x; i < C * 64; i += NT) {
      const int r = i / 64, cc = i % 64;
      s.x[r * kLD64 + cc] = __float2bfloat16_rn(__bfloat162float(s.x[r * kLD64 + cc]) * s.beta[r]);
    }
    __syncthreads();
    float acc[8][4] = {};
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      if (kk > warp) continue;
      unsigned a[4];
      load_a(a, s.t, kLD64, m0, 16 * kk);
      mma_row<true>(acc, a, s.x, kLD64, 16 * kk);
    }
    store_acc_tile<NT>(head_cols(gp.uu, h, V), s.stage, acc, m0, cr, vs, col0);
  }
}

// ---------------------------------------------------------------- scans

// V tile of the scans: 32 columns (V = 64 gives 2 blocks per head), except
// the K = 128 backward, whose q, k, w stages would leave room for one 32-wide
// block per multiprocessor: 128 x 64 there (B H = 64 heads, V = 128: 128
// blocks, one wave).
template <int DK, bool kFwd>
constexpr int gdn_scan_bv() {
  return DK == 128 && !kFwd ? 64 : 32;
}

// One pipeline stage of a scan: x0, x1 are [C, DK] (forward: k, w; backward:
// k, w, and q in x2), y0, y1 [C, BV] (forward: U; backward: dO, du_local).
template <int DK, int BV, bool kFwd>
struct GdnScanStage {
  static constexpr int LDK = DK + 8, LDV = BV + 8;
  // 16-byte aligned members: cp.async and ldmatrix need it, and the
  // forward's one-element placeholders would otherwise shift what follows.
  alignas(16) bf16 k[C * LDK];
  alignas(16) bf16 w[C * LDK];
  alignas(16) bf16 q[kFwd ? 8 : C * LDK];
  alignas(16) bf16 y0[C * LDV];
  alignas(16) bf16 y1[kFwd ? 8 : C * LDV];
  alignas(16) float g[C];
};

// Chunks in flight: with K = 64 the loads of chunk i + 2 are issued while
// chunk i is computed; K = 128 keeps two stages (three would not fit the
// backward, and would leave the forward one block per multiprocessor).
template <int DK>
constexpr int gdn_scan_stages() {
  return DK == 64 ? 3 : 2;
}

template <int DK, int BV, bool kFwd>
struct GdnScanSmem {
  static constexpr int LDV = BV + 8, kStages = gdn_scan_stages<DK>();
  GdnScanStage<DK, BV, kFwd> stage[kStages];
  bf16 s[DK * LDV];  // the state (forward) / its gradient (backward), bf16
  bf16 u[C * LDV];   // u (forward) / du (backward), bf16
};

template <int DK, int BV, bool kFwd>
__device__ __forceinline__ void gdn_scan_issue(GdnScanStage<DK, BV, kFwd>& st, const GdnParams& gp,
                                               int h, int col0, int64_t row0, int rows) {
  using St = GdnScanStage<DK, BV, kFwd>;
  constexpr int NT = kTileThreads;
  const LinearAttnParams& p = gp.la;
  const int H = p.heads, V = p.head_v;
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V;
  load_rows<DK, St::LDK, NT>(st.k, head_cols(p.k, h, DK), row0, rows, qs, 0);
  load_rows<DK, St::LDK, NT>(st.w, head_cols(gp.w, h, DK), row0, rows, qs, 0);
  if constexpr (kFwd) {
    load_rows<BV, St::LDV, NT>(st.y0, head_cols(gp.uu, h, V), row0, rows, vs, col0);
  } else {
    load_rows<DK, St::LDK, NT>(st.q, head_cols(p.q, h, DK), row0, rows, qs, 0);
    load_rows<BV, St::LDV, NT>(st.y0, head_cols(p.dout, h, V), row0, rows, vs, col0);
    load_rows<BV, St::LDV, NT>(st.y1, head_cols(gp.du_local, h, V), row0, rows, vs, col0);
  }
  load_gate<1, 1, NT>(st.g, p.gcum + h, row0, rows, H);
  cp_async_commit();
}

// acc (a warp's RW x BV slab of the state, RW = DK / 4 rows from r0) +=
// (X ⊙ f(t))^T Y over the chunk's rows: X [C, DK] bf16 (ld LDK), Y [C, BV]
// (ld LDV), f a per-row factor. The transposed operand is read with
// ldmatrix.trans and scaled in registers.
template <int MT, int NB, int LDK, int LDV, typename F>
__device__ __forceinline__ void state_update(float (&acc)[MT][NB][4], const bf16* x, const bf16* y,
                                             int r0, F&& f) {
  const int lane = threadIdx.x % 32, cq = lane % 4;
#pragma unroll
  for (int tb = 0; tb < C / 16; ++tb) {
    const int t0 = 16 * tb;
    const float f00 = f(t0 + 2 * cq), f01 = f(t0 + 2 * cq + 1);
    const float f10 = f(t0 + 8 + 2 * cq), f11 = f(t0 + 9 + 2 * cq);
    unsigned b[NB / 2][4];
#pragma unroll
    for (int jp = 0; jp < NB / 2; ++jp)
      ldmatrix_x4_trans(b[jp], y + (t0 + lane % 8 + 8 * ((lane / 8) % 2)) * LDV + 16 * jp +
                                   8 * (lane / 16));
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      unsigned a[4];
      ldmatrix_x4_trans(a, x + (t0 + lane % 8 + 8 * (lane / 16)) * LDK + r0 + 16 * mt +
                               8 * ((lane / 8) % 2));
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const float2 xv = unpack_bf16x2(a[r]);
        const float fa = r >> 1 ? f10 : f00, fb = r >> 1 ? f11 : f01;
        a[r] = pack_bf16x2(__floats2bfloat162_rn(xv.x * fa, xv.y * fb));
      }
#pragma unroll
      for (int jp = 0; jp < NB / 2; ++jp) {
        mma_16816(acc[mt][2 * jp], a, b[jp][0], b[jp][1]);
        mma_16816(acc[mt][2 * jp + 1], a, b[jp][2], b[jp][3]);
      }
    }
  }
}

// Grid (V / BV, heads, sequences). Forward: the state walks the chunks;
// backward: its gradient walks them in reverse.
template <int DK, bool kFwd>
__global__ void __launch_bounds__(kTileThreads) gdn_scan_kernel(GdnParams gp) {
  constexpr int BV = gdn_scan_bv<DK, kFwd>();
  using Sm = GdnScanSmem<DK, BV, kFwd>;
  using St = GdnScanStage<DK, BV, kFwd>;
  constexpr int RW = DK / kTileWarps, MT = RW / 16, NB = BV / 8, LDV = Sm::LDV, LDK = St::LDK;
  const LinearAttnParams& p = gp.la;
  Sm& sm = shared_tiles<Sm>();
  const int col0 = blockIdx.x * BV, h = blockIdx.y, n = blockIdx.z;
  const int H = p.heads, V = p.head_v;
  const Seq sq = seq_of(p, n);
  const int nchunks = (sq.eos - sq.bos + C - 1) / C;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, cq = lane % 4;
  const int r0 = RW * warp;  // the warp's state rows
  const int m0 = 16 * warp;  // the warp's chunk rows
  const int64_t head_state = (int64_t)h * DK * V;
  const float* init = kFwd ? p.h0 : p.dht;
  bf16* per_chunk = static_cast<bf16*>(kFwd ? p.hchunk : p.dhchunk);
  float* last = kFwd ? p.ht : p.dh0;
  bf16* uout = static_cast<bf16*>(kFwd ? gp.vnew : gp.du);
  const int64_t vs = (int64_t)H * V;

  float acc[MT][NB][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int j = 0; j < NB; ++j) {
      float2 a = make_float2(0.f, 0.f), b = a;
      if (init != nullptr) {
        const float* src = init + (int64_t)n * H * DK * V + head_state +
                           (int64_t)(r0 + 16 * mt + gq) * V + col0 + 8 * j + 2 * cq;
        a = *reinterpret_cast<const float2*>(src);
        b = *reinterpret_cast<const float2*>(src + 8 * V);
      }
      acc[mt][j][0] = a.x, acc[mt][j][1] = a.y, acc[mt][j][2] = b.x, acc[mt][j][3] = b.y;
    }

  auto row0_of = [&](int step) { return sq.bos + (kFwd ? step : nchunks - 1 - step) * C; };
  constexpr int kStages = Sm::kStages;
  // Issues chunk `step`'s loads into its stage, or an empty group past the
  // end, so that every step waits for the same group count.
  auto issue = [&](int step) {
    if (step < nchunks) {
      const int r = row0_of(step);
      gdn_scan_issue<DK, BV, kFwd>(sm.stage[step % kStages], gp, h, col0, r, min(C, sq.eos - r));
    } else {
      cp_async_commit();
    }
  };
#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) issue(i);
  for (int step = 0; step < nchunks; ++step) {
    const int c = kFwd ? step : nchunks - 1 - step;
    const int row0 = row0_of(step), rows = min(C, sq.eos - row0);
    cp_async_wait_group<kStages - 2>();
    __syncthreads();  // this chunk's stage landed; every warp is past the previous step
    issue(step + kStages - 1);
    const St& st = sm.stage[step % kStages];
    {  // the state entering (forward) / the gradient leaving (backward) chunk c
      bf16* dst = per_chunk + (int64_t)(sq.chunk0 + c) * H * DK * V + head_state;
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int j = 0; j < NB; ++j)
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            const int r = r0 + 16 * mt + gq + 8 * half, cc = 8 * j + 2 * cq;
            const __nv_bfloat162 x = __floats2bfloat162_rn(acc[mt][j][2 * half], acc[mt][j][2 * half + 1]);
            *reinterpret_cast<__nv_bfloat162*>(dst + (int64_t)r * V + col0 + cc) = x;
            *reinterpret_cast<__nv_bfloat162*>(sm.s + r * LDV + cc) = x;
          }
    }
    __syncthreads();
    const float bl = st.g[C - 1];
    {
      // Forward: u = U - W S. Backward: du = du_local + (K ⊙ e^{b_L - b}) dS'.
      float au[NB][4] = {};
      const bf16* xa = kFwd ? st.w : st.k;
      const float fr0 = kFwd ? 1.f : decay_exp(bl - st.g[m0 + gq]);
      const float fr1 = kFwd ? 1.f : decay_exp(bl - st.g[m0 + gq + 8]);
#pragma unroll
      for (int kk = 0; kk < DK / 16; ++kk) {
        unsigned a[4];
        load_a(a, xa, LDK, m0, 16 * kk);
        if constexpr (!kFwd) {
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const float2 xv = unpack_bf16x2(a[r]);
            const float f = r & 1 ? fr1 : fr0;
            a[r] = pack_bf16x2(__floats2bfloat162_rn(xv.x * f, xv.y * f));
          }
        }
#pragma unroll
        for (int np = 0; np < NB / 2; ++np) {
          unsigned b[4];
          load_b_kn(b, sm.s, LDV, 16 * kk, 16 * np);
          mma_pair(au, 2 * np, a, b);
        }
      }
      const bf16* base = kFwd ? st.y0 : st.y1;
#pragma unroll
      for (int j = 0; j < NB; ++j)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int t = m0 + gq + 8 * half, cc = 8 * j + 2 * cq;
          const float2 y = unpack_bf16x2(*reinterpret_cast<const unsigned*>(base + t * LDV + cc));
          const float u0 = kFwd ? y.x - au[j][2 * half] : y.x + au[j][2 * half];
          const float u1 = kFwd ? y.y - au[j][2 * half + 1] : y.y + au[j][2 * half + 1];
          const __nv_bfloat162 x = __floats2bfloat162_rn(u0, u1);
          *reinterpret_cast<__nv_bfloat162*>(sm.u + t * LDV + cc) = x;
          if (t < rows)
            *reinterpret_cast<__nv_bfloat162*>(uout + (int64_t)(row0 + t) * vs + (int64_t)h * V + col0 + cc) = x;
        }
    }
    __syncthreads();
    const float dl = decay_exp(bl);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int j = 0; j < NB; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mt][j][e] *= dl;
    if constexpr (kFwd) {
      // S' = e^{b_L} S + (K ⊙ e^{b_L - b})^T u
      state_update<MT, NB, LDK, LDV>(acc, st.k, sm.u, r0,
                                     [&](int t) { return decay_exp(bl - st.g[t]); });
    } else {
      // dS = e^{b_L} dS' + (scale Q ⊙ e^b)^T dO - W^T du
      const float sc = p.scale;
      state_update<MT, NB, LDK, LDV>(acc, st.q, st.y0, r0,
                                     [&](int t) { return sc * decay_exp(st.g[t]); });
      state_update<MT, NB, LDK, LDV>(acc, st.w, sm.u, r0, [](int) { return -1.f; });
    }
  }
  if (last != nullptr) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int j = 0; j < NB; ++j) {
        float* dst = last + (int64_t)n * H * DK * V + head_state +
                     (int64_t)(r0 + 16 * mt + gq) * V + col0 + 8 * j + 2 * cq;
        *reinterpret_cast<float2*>(dst) = make_float2(acc[mt][j][0], acc[mt][j][1]);
        *reinterpret_cast<float2*>(dst + 8 * V) = make_float2(acc[mt][j][2], acc[mt][j][3]);
      }
  }
}

// ---------------------------------------------------------------- du_local

template <int DK>
struct DvLocalTiles {
  static constexpr int LDQ = DK + 8;
  bf16 q[C * LDQ], k[C * LDQ], x[C * kLD64];
  float g[C];
};

// Grid (chunks x V/64, heads). Warps own key rows j: du_local = A^T dO with
// A = scale (Q K^T ⊙ e^{b_t - b_j}), j <= t.
template <int DK>
__global__ void __launch_bounds__(kTileThreads) gdn_dv_local_kernel(GdnParams gp) {
  using S = DvLocalTiles<DK>;
  constexpr int NT = kTileThreads;
  const LinearAttnParams& p = gp.la;
  S& s = shared_tiles<S>();
  const TileBlock b = tile_block<DK>(p, p.head_v / 64);
  const ChunkRows& cr = b.cr;
  load_rows<DK, S::LDQ, NT>(s.q, head_cols(p.q, b.h, DK), cr.row0, cr.rows, b.qs, 0);
  load_rows<DK, S::LDQ, NT>(s.k, head_cols(p.k, b.h, DK), cr.row0, cr.rows, b.qs, 0);
  load_rows<64, kLD64, NT>(s.x, head_cols(p.dout, b.h, p.head_v), cr.row0, cr.rows, b.vs, b.col0);
  load_gate<1, 1, NT>(s.g, p.gcum + b.h, cr.row0, cr.rows, p.heads);
  cp_async_wait();
  __syncthreads();
  const int warp = threadIdx.x / 32, m0 = 16 * warp;
  float acc_p[8][4] = {}, acc_dv[8][4] = {};
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) {
    unsigned a[4];
    load_a(a, s.k, S::LDQ, m0, 16 * kk);
    mma_row<false>(acc_p, a, s.q, S::LDQ, 16 * kk, warp, 3);
  }
  float bj[2];
  slab_rows(m0, [&](int half, int j) { bj[half] = s.g[j]; });
  for_each_slab_elem(m0, [&](int j, int t, int nb, int i) {
    acc_p[nb][i] = t >= j ? acc_p[nb][i] * p.scale * decay_exp(s.g[t] - bj[i / 2]) : 0.f;
  });
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk < warp) continue;
    unsigned a[4];
    acc_to_a(a, acc_p, kk);
    mma_row<true>(acc_dv, a, s.x, kLD64, 16 * kk);
  }
  store_acc_tile<NT>(head_cols(gp.du_local, b.h, p.head_v), s.q, acc_dv, m0, cr, b.vs, b.col0);
}

// ---------------------------------------------------------------- WY backward

template <int DK>
struct WyTiles {
  static constexpr int LDK = DK + 8;
  bf16 k[C * LDK], bk[C * LDK], dw[C * LDK];
  // v doubles as the staging tile of the dv stores and, after the value
  // loop, holds dT and Cm: one 64 x 64 tile less keeps K = 128 at two
  // blocks per multiprocessor.
  bf16 t[C * kLD64], du[C * kLD64], v[C * kLD64], bv[C * kLD64];
  bf16 st[DK * kLD64];
  float g[C], beta[C];
  float red[kTileWarps][C];
};

// Grid (chunks, heads). Gradients through u = U - W S (du, S given):
//   dW = -du S^T, dBk = T^T dW, dBv = T^T du (Bk = beta e^b K, Bv = beta V),
//   dT = dW Bk^T + du Bv^T, dM = -T^T dT T^T (strictly lower), then
//   dv = beta dBv, dbeta = e^b k.dBk + v.dBv + sum_j dM_tj e^{b_t-b_j} k_t.k_j,
//   dk_wy = beta e^b dBk + (Cm + Cm^T) K with Cm = dM beta_t e^{b_t - b_j},
//   db_wy_t = beta_t e^{b_t} k_t.dBk_t + sum_j X_tj - sum_i X_it, X = Cm ⊙ K K^T.
template <int DK>
__global__ void __launch_bounds__(kTileThreads) gdn_wy_bwd_kernel(GdnParams gp) {
  using S = WyTiles<DK>;
  constexpr int NT = kTileThreads, NC = DK / 64, LDK = S::LDK;
  const LinearAttnParams& p = gp.la;
  S& s = shared_tiles<S>();
  const int ci = blockIdx.x, h = blockIdx.y, H = p.heads, V = p.head_v;
  const ChunkRows cr = chunk_rows(p, ci);
  const int64_t qs = (int64_t)H * DK, vs = (int64_t)H * V;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const int m0 = 16 * warp;
  load_rows<DK, LDK, NT>(s.k, head_cols(p.k, h, DK), cr.row0, cr.rows, qs, 0);
  load_rows<64, kLD64, NT>(s.t, chunk_tinv(gp.tinv, p, ci, h), 0, C, C, 0);
  load_gate<1, 1, NT>(s.g, p.gcum + h, cr.row0, cr.rows, H);
  load_beta(s.beta, gp.beta, cr.row0, cr.rows, H, h);
  cp_async_wait();
  __syncthreads();
  for (int i = threadIdx.x; i < C * DK; i += NT) {
    const int r = i / DK, cc = i % DK;
    s.bk[r * LDK + cc] =
        __float2bfloat16_rn(__bfloat162float(s.k[r * LDK + cc]) * s.beta[r] * decay_exp(s.g[r]));
  }
  float rdb[2] = {0.f, 0.f}, rdbeta[2] = {0.f, 0.f};  // per-thread partial row sums
  float acc_dw[NC][8][4] = {}, acc_dt[8][4] = {};
  const bf16* s_head = chunk_state<DK>(p.hchunk, p, TileBlock{ci, 0, h, cr, qs, vs});
  for (int col0 = 0; col0 < V; col0 += 64) {
    __syncthreads();  // the previous tiles have been read
    load_rows<64, kLD64, NT>(s.du, head_cols(gp.du, h, V), cr.row0, cr.rows, vs, col0);
    load_rows<64, kLD64, NT>(s.v, head_cols(p.v, h, V), cr.row0, cr.rows, vs, col0);
    load_state_tile<DK, 64, kLD64, NT>(s.st, s_head, V, col0);
    cp_async_wait();
    __syncthreads();
    for (int i = threadIdx.x; i < C * 64; i += NT) {
      const int r = i / 64, cc = i % 64;
      s.bv[r * kLD64 + cc] = __float2bfloat16_rn(__bfloat162float(s.v[r * kLD64 + cc]) * s.beta[r]);
    }
    __syncthreads();
    float acc_dbv[8][4] = {};
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      unsigned a[4];
      load_a(a, s.du, kLD64, m0, 16 * kk);
#pragma unroll
      for (int ct = 0; ct < NC; ++ct) mma_row<false>(acc_dw[ct], a, s.st + 64 * ct * kLD64, kLD64, 16 * kk);
      mma_row<false>(acc_dt, a, s.bv, kLD64, 16 * kk);
      if (kk >= warp) {
        unsigned at[4];
        load_a_t(at, s.t, kLD64, m0, 16 * kk);
        mma_row<true>(acc_dbv, at, s.du, kLD64, 16 * kk);
      }
    }
    for_each_slab_elem(m0, [&](int t, int j, int nb, int i) {
      rdbeta[i / 2] += __bfloat162float(s.v[t * kLD64 + j]) * acc_dbv[nb][i];
      acc_dbv[nb][i] *= s.beta[t];
    });
    store_acc_tile<NT>(head_cols(p.dv, h, V), s.v, acc_dbv, m0, cr, vs, col0);
  }
  // dW = -du S^T, to smem for dT and dBk.
#pragma unroll
  for (int ct = 0; ct < NC; ++ct) {
#pragma unroll
    for (int nb = 0; nb < 8; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_dw[ct][nb][e] = -acc_dw[ct][nb][e];
    acc_to_smem<LDK>(s.dw + 64 * ct, acc_dw[ct], m0);
  }
  __syncthreads();
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) {  // dT += dW Bk^T
    unsigned a[4];
    load_a(a, s.dw, LDK, m0, 16 * kk);
    mma_row<false>(acc_dt, a, s.bk, LDK, 16 * kk);
  }
  float acc_dk[NC][8][4] = {};  // dBk, then the WY share of dk
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk < warp) continue;
    unsigned a[4];
    load_a_t(a, s.t, kLD64, m0, 16 * kk);
#pragma unroll
    for (int ct = 0; ct < NC; ++ct) mma_row<true>(acc_dk[ct], a, s.dw + 64 * ct, LDK, 16 * kk);
  }
#pragma unroll
  for (int ct = 0; ct < NC; ++ct)
    for_each_slab_elem(m0, [&](int t, int j, int nb, int i) {
      const float eb = decay_exp(s.g[t]);
      const float kv = __bfloat162float(s.k[t * LDK + 64 * ct + j]) * eb * acc_dk[ct][nb][i];
      rdbeta[i / 2] += kv;
      rdb[i / 2] += s.beta[t] * kv;
      acc_dk[ct][nb][i] *= s.beta[t] * eb;
    });
  // dM = -T^T dT T^T: dT to smem, X = T^T dT in registers, dM = X T^T.
  acc_to_smem<kLD64>(s.v, acc_dt, m0);
  __syncthreads();
  float acc_x[8][4] = {};
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk < warp) continue;
    unsigned a[4];
    load_a_t(a, s.t, kLD64, m0, 16 * kk);
    mma_row<true>(acc_x, a, s.v, kLD64, 16 * kk);
  }
  float acc_m[8][4] = {};
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    unsigned a[4];
    acc_to_a(a, acc_x, kk);
    mma_row<false>(acc_m, a, s.t, kLD64, 16 * kk, kk, 3);  // T[n][k] is 0 for n < k
  }
  float acc_kk[8][4] = {};
#pragma unroll
  for (int kk = 0; kk < DK / 16; ++kk) {
    unsigned a[4];
    load_a(a, s.k, LDK, m0, 16 * kk);
    mma_row<false>(acc_kk, a, s.k, LDK, 16 * kk, 0, warp);
  }
  float colp[8][2] = {};  // this thread's column sums of X over its two rows
  for_each_slab_elem(m0, [&](int t, int j, int nb, int i) {
    float cm = 0.f;
    if (j < t) {
      const float gam = decay_exp(s.g[t] - s.g[j]);
      const float dm = -acc_m[nb][i];
      rdbeta[i / 2] += dm * gam * acc_kk[nb][i];
      cm = dm * s.beta[t] * gam;
      const float xv = cm * acc_kk[nb][i];
      rdb[i / 2] += xv;
      colp[nb][i % 2] += xv;
    }
    acc_m[nb][i] = cm;
  });
#pragma unroll
  for (int nb = 0; nb < 8; ++nb)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      float x = colp[nb][e];
      x += __shfl_xor_sync(0xffffffffu, x, 4);
      x += __shfl_xor_sync(0xffffffffu, x, 8);
      x += __shfl_xor_sync(0xffffffffu, x, 16);
      if (g == 0) s.red[warp][8 * nb + 2 * c + e] = x;
    }
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // dk += Cm K
    if (kk > warp) continue;
    unsigned a[4];
    acc_to_a(a, acc_m, kk);
#pragma unroll
    for (int ct = 0; ct < NC; ++ct) mma_row<true>(acc_dk[ct], a, s.k + 64 * ct, LDK, 16 * kk);
  }
  __syncthreads();  // everyone is done with dT in s.v
  acc_to_smem<kLD64>(s.v, acc_m, m0);
  __syncthreads();
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // dk += Cm^T K
    if (kk < warp) continue;
    unsigned a[4];
    load_a_t(a, s.v, kLD64, m0, 16 * kk);
#pragma unroll
    for (int ct = 0; ct < NC; ++ct) mma_row<true>(acc_dk[ct], a, s.k + 64 * ct, LDK, 16 * kk);
  }
  float* dkw = gp.dk_wy + (int64_t)cr.row0 * qs + (int64_t)h * DK;
#pragma unroll
  for (int ct = 0; ct < NC; ++ct)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int t = m0 + g + 8 * half;
      if (t >= cr.rows) continue;
#pragma unroll
      for (int nb = 0; nb < 8; ++nb)
        *reinterpret_cast<float2*>(dkw + (int64_t)t * qs + 64 * ct + 8 * nb + 2 * c) =
            make_float2(acc_dk[ct][nb][2 * half], acc_dk[ct][nb][2 * half + 1]);
    }
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const float db = row_reduce(rdb[half]), dbeta = row_reduce(rdbeta[half]);
    const int t = m0 + g + 8 * half;
    if (c == 0 && t < cr.rows) {
      const float col = s.red[0][t] + s.red[1][t] + s.red[2][t] + s.red[3][t];
      gp.db_wy[(int64_t)(cr.row0 + t) * H + h] = db - col;
      gp.dbeta[(int64_t)(cr.row0 + t) * H + h] = dbeta;
    }
  }
}

// ---------------------------------------------------------------- launchers

template <int DK>
void launch_gdn_forward(const GdnParams& gp, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  const LinearAttnParams& p = gp.la;
  if (p.num_seqs == 0) return;
  if (p.num_chunks > 0) {
    auto fn = gdn_prep_kernel<DK>;
    set_smem(reinterpret_cast<const void*>(fn), sizeof(PrepTiles<DK>));
    fn<<<dim3(p.num_chunks, p.heads), kTileThreads, sizeof(PrepTiles<DK>), st>>>(gp);
    check_launch("gated delta rule forward (prep)");
  }
  {
    constexpr int BV = gdn_scan_bv<DK, true>();
    auto fn = gdn_scan_kernel<DK, true>;
    const int smem = sizeof(GdnScanSmem<DK, BV, true>);
    set_smem(reinterpret_cast<const void*>(fn), smem);
    fn<<<dim3(p.head_v / BV, p.heads, p.num_seqs), kTileThreads, smem, st>>>(gp);
    check_launch("gated delta rule forward (state scan)");
  }
  if (p.num_chunks == 0) return;  // the scan wrote the final states (= initial ones)
  LinearAttnParams po = p;
  po.v = gp.vnew;
  launch_tiles(scalar_output_kernel<DK>, sizeof(QkTiles<DK>),
               dim3(p.num_chunks * (p.head_v / 64), p.heads), st, po,
               "gated delta rule forward (output)");
}

template <int DK>
void launch_gdn_backward(const GdnParams& gp, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  const LinearAttnParams& p = gp.la;
  const dim3 vtiles(p.num_chunks * (p.head_v / 64), p.heads);
  if (p.num_seqs == 0) return;
  if (p.num_chunks > 0) {
    auto fn = gdn_dv_local_kernel<DK>;
    set_smem(reinterpret_cast<const void*>(fn), sizeof(DvLocalTiles<DK>));
    fn<<<vtiles, kTileThreads, sizeof(DvLocalTiles<DK>), st>>>(gp);
    check_launch("gated delta rule backward (du local)");
  }
  {
    constexpr int BV = gdn_scan_bv<DK, false>();
    auto fn = gdn_scan_kernel<DK, false>;
    const int smem = sizeof(GdnScanSmem<DK, BV, false>);
    set_smem(reinterpret_cast<const void*>(fn), smem);
    fn<<<dim3(p.head_v / BV, p.heads, p.num_seqs), kTileThreads, smem, st>>>(gp);
    check_launch("gated delta rule backward (state scan)");
  }
  if (p.num_chunks == 0) return;
  {
    auto fn = gdn_wy_bwd_kernel<DK>;
    set_smem(reinterpret_cast<const void*>(fn), sizeof(WyTiles<DK>));
    fn<<<dim3(p.num_chunks, p.heads), kTileThreads, sizeof(WyTiles<DK>), st>>>(gp);
    check_launch("gated delta rule backward (WY)");
  }
  LinearAttnParams pd = p;
  pd.v = gp.vnew;
  pd.dk_extra = gp.dk_wy;
  pd.dg_extra = gp.db_wy;
  launch_tiles(scalar_dqk_kernel<DK>, sizeof(DqkTiles), dim3(p.num_chunks * (DK / 64), p.heads),
               st, pd, "gated delta rule backward (dq, dk, dg)");
}

#define SCALELAB_GDN_INSTANTIATE(DK)                                     \
  template void launch_gdn_forward<DK>(const GdnParams&, void*);        \
  template void launch_gdn_backward<DK>(const GdnParams&, void*);

}  // namespace scalelab::kernels::cuda
