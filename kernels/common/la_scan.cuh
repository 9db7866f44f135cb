// The sequential part of the chunked algorithm: one block per (sequence,
// head, K tile, V tile) walks the sequence's chunks and carries a [BK x BV]
// fp32 state tile (rows of the state evolve independently, so K splits too:
// more, smaller blocks, two per multiprocessor, hide the per-chunk latency).
//   forward  (kFwd):  S <- exp(bC) S + (K ⊙ exp(bC - b))^T V, storing the
//                     state entering each chunk (hchunk) and the final one.
//   backward (!kFwd): walks backwards, dS <- exp(bC) dS + (scale Q ⊙ exp(b))^T dO,
//                     storing the gradient of the state leaving each chunk
//                     (dhchunk) and, at the end, of the initial state.
// The folded operand is split into bf16 hi + lo so the carried states are
// exact to ~16 bits (the gate gradient is a difference of state terms).
#pragma once

#include "kernels/common/la_device.cuh"

namespace scalelab::kernels::cuda {

template <int DK, int BV, bool kVec>  // DK here is the K tile
struct ScanSmem {
  static constexpr int LDQ = DK + 8, LDV = BV + 8, LDS = BV + 4;
  static constexpr int GK = kVec ? DK : 1, LDG = kVec ? DK + 4 : 1;
  bf16 x[C * LDQ], xd[C * LDQ], xdl[C * LDQ], y[C * LDV];  // (k, v) or (q, dO)
  float g[C * LDG + (kVec ? 0 : 8)];
  float s[DK * LDS];
};

template <int DK, int BV, bool kVec, bool kFwd>  // DK: the K tile (BK)
__global__ void __launch_bounds__(kThreads, 2) state_scan_kernel(LinearAttnParams p) {
  using S = ScanSmem<DK, BV, kVec>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  S& s = *reinterpret_cast<S*>(smem_raw);
  const int nv = p.head_v / BV;
  const int vt = blockIdx.x % nv, k0 = (blockIdx.x / nv) * DK, h = blockIdx.y, n = blockIdx.z;
  const int H = p.heads, K = p.head_k, V = p.head_v, col0 = vt * BV;
  const Seq sq = seq_of(p, n);
  const int gk = kVec ? K : 1;
  const int64_t xs = (int64_t)H * K, ys = (int64_t)H * V, gs = (int64_t)H * gk;
  const bf16* x = static_cast<const bf16*>(kFwd ? p.k : p.q) + h * K + k0;
  const bf16* y = static_cast<const bf16*>(kFwd ? p.v : p.dout) + h * V;
  const float* gc = p.gcum + h * gk + (kVec ? k0 : 0);
  const float* init = kFwd ? p.h0 : p.dht;
  float* per_chunk = kFwd ? p.hchunk : p.dhchunk;
  float* last = kFwd ? p.ht : p.dh0;
  const int64_t tile_off = (int64_t)k0 * V;  // rows k0.. of a [K, V] state
  const int64_t state_off = ((int64_t)n * H + h) * K * V + tile_off;
  const int nchunks = (sq.eos - sq.bos + C - 1) / C;

  load_state<DK, BV, S::LDS>(s.s, init != nullptr ? init + state_off : nullptr, V, col0);
  for (int step = 0; step < nchunks; ++step) {
    const int c = kFwd ? step : nchunks - 1 - step;
    const int row0 = sq.bos + c * C, rows = min(C, sq.eos - row0);
    __syncthreads();
    store_state<DK, BV, S::LDS>(per_chunk + ((int64_t)(sq.chunk0 + c) * H + h) * K * V + tile_off, s.s, V, col0);
    load_rows<DK, S::LDQ>(s.x, x, row0, rows, xs, 0);
    load_rows<BV, S::LDV>(s.y, y, row0, rows, ys, col0);
    load_gate<S::GK, S::LDG>(s.g, gc, row0, rows, gs);
    cp_async_wait();
    __syncthreads();
    if constexpr (kFwd)
      fold_gate<DK, S::LDQ, S::GK, S::LDG>(nullptr, nullptr, s.xd, s.xdl, nullptr, s.x, s.g, p.scale);
    else
      fold_gate<DK, S::LDQ, S::GK, S::LDG>(s.xd, s.xdl, nullptr, nullptr, s.x, nullptr, s.g, p.scale);
    decay_state<DK, BV, S::LDS, S::GK, S::LDG>(s.s, s.g);
    __syncthreads();
    block_gemm<DK, BV, C, wmma::col_major, wmma::row_major>(s.s, S::LDS, s.xd, S::LDQ, s.y, S::LDV,
                                                           true, s.xdl);
  }
  __syncthreads();
  if (last != nullptr) store_state<DK, BV, S::LDS>(last + state_off, s.s, V, col0);
}

}  // namespace scalelab::kernels::cuda
