// The sequential part of the chunked algorithm: one block per (sequence,
// head, K tile, V tile) walks the sequence's chunks and carries a [64 x BV]
// fp32 state tile (rows of the state evolve independently, so K splits too).
//   forward  (kFwd):  S <- exp(bC) S + (K ⊙ exp(bC - b))^T V, storing the
//                     state entering each chunk (hchunk) and the final one.
//   backward (!kFwd): walks backwards, dS <- exp(bC) dS + (scale Q ⊙ exp(b))^T dO,
//                     storing the gradient of the state leaving each chunk
//                     (dhchunk) and, at the end, of the initial state.
// The per-chunk step is latency-bound (a 64 x 64 x BV product), so the state
// never leaves registers (mma.sync accumulators, 16 state rows per warp,
// stored straight to global, as bf16 per chunk), the next chunks' tiles load
// (cp.async, kScanStages deep) while this one is computed, and each step has a
// single barrier. The gate is folded into the transposed operand in
// registers and rounded to bf16, as every other tensor-core operand; the
// state itself accumulates in fp32.
#pragma once

#include "kernels/common/la_device.cuh"
#include "kernels/common/la_mma.cuh"

namespace scalelab::kernels::cuda {

inline constexpr int kScanWarps = 4;
inline constexpr int kScanThreads = 32 * kScanWarps;
inline constexpr int kScanBK = 16 * kScanWarps;  // state rows per block: 16 per warp

// V tile of the scans: small enough that B*H = 64 heads give >= 256 blocks,
// large enough that every block is resident at once (a second wave of a
// latency-bound sequential kernel doubles its time) and that few blocks
// repeat the same gate folding of a K tile.
template <int DK, bool kVec>
constexpr int scan_bv() {
  return DK == 64 ? 16 : 64;
}

// Chunks in flight: the loads of chunk i + 2 are issued while chunk i is
// computed (one step is shorter than a global-memory round trip).
inline constexpr int kScanStages = 3;

// One pipeline stage: the chunk's x (k or q) and y (v or dO) rows and gates.
template <int BV, bool kVec>
struct ScanStage {
  static constexpr int LDX = kScanBK + 8, LDY = BV + 8, LDG = kVec ? kScanBK + 4 : 1;
  bf16 x[C * LDX];
  bf16 y[C * LDY];
  float g[kVec ? C * LDG : C];
};

template <int BV, bool kVec>
constexpr int scan_smem_bytes() {
  return kScanStages * static_cast<int>(sizeof(ScanStage<BV, kVec>));
}

// Issues the cp.async copies of one chunk into a stage; rows past the end are
// zero (x, y) or repeat the last valid gate row (every factor exp(0)).
template <int BV, bool kVec>
__device__ __forceinline__ void scan_load(ScanStage<BV, kVec>& s, const bf16* x, const bf16* y,
                                          const float* gc, int64_t row0, int rows, int64_t xs,
                                          int64_t ys, int64_t gs) {
  using St = ScanStage<BV, kVec>;
  for (int i = threadIdx.x; i < C * (kScanBK / 8); i += kScanThreads) {
    const int r = i / (kScanBK / 8), c = (i % (kScanBK / 8)) * 8;
    const int rr = r < rows ? r : 0;
    cp_async16(s.x + r * St::LDX + c, x + (row0 + rr) * xs + c, r < rows);
  }
  for (int i = threadIdx.x; i < C * (BV / 8); i += kScanThreads) {
    const int r = i / (BV / 8), c = (i % (BV / 8)) * 8;
    const int rr = r < rows ? r : 0;
    cp_async16(s.y + r * St::LDY + c, y + (row0 + rr) * ys + c, r < rows);
  }
  if constexpr (kVec) {
    for (int i = threadIdx.x; i < C * (kScanBK / 4); i += kScanThreads) {
      const int r = i / (kScanBK / 4), c = (i % (kScanBK / 4)) * 4;
      const int rr = r < rows ? r : rows - 1;
      cp_async16(s.g + r * St::LDG + c, gc + (row0 + rr) * gs + c, true);
    }
  } else {
    for (int r = threadIdx.x; r < C; r += kScanThreads)
      cp_async4(s.g + r, gc + (row0 + (r < rows ? r : rows - 1)) * gs);
  }
  cp_async_commit();
}

template <int BV, bool kVec, bool kFwd>
__global__ void __launch_bounds__(kScanThreads) state_scan_kernel(LinearAttnParams p) {
  using St = ScanStage<BV, kVec>;
  constexpr int NT = BV / 8;  // n-tiles of the state per warp
  extern __shared__ __align__(128) unsigned char smem_raw[];
  St* stage = reinterpret_cast<St*>(smem_raw);
  const int nv = p.head_v / BV;
  const int vt = blockIdx.x % nv, k0 = (blockIdx.x / nv) * kScanBK, h = blockIdx.y, n = blockIdx.z;
  const int H = p.heads, K = p.head_k, V = p.head_v, col0 = vt * BV;
  const Seq sq = seq_of(p, n);
  const int gk = kVec ? K : 1;
  // Lightning's fused SiLU: x (k or q) and, forward, y (v) are columns of h.
  const int64_t xs = p.in_stride > 0 ? p.in_stride : (int64_t)H * K;
  const int64_t ys = kFwd && p.in_stride > 0 ? p.in_stride : (int64_t)H * V;
  const int64_t gs = (int64_t)H * gk;
  const bf16* x = static_cast<const bf16*>(kFwd ? p.k : p.q) + h * K + k0;
  const bf16* y = static_cast<const bf16*>(kFwd ? p.v : p.dout) + h * V + col0;
  const float* gc = p.gcum + h * gk + (kVec ? k0 : 0);
  const float* init = kFwd ? p.h0 : p.dht;
  bf16* per_chunk = static_cast<bf16*>(kFwd ? p.hchunk : p.dhchunk);
  float* last = kFwd ? p.ht : p.dh0;
  const int nchunks = (sq.eos - sq.bos + C - 1) / C;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, cq = lane % 4;
  const int kr = 16 * warp + gq;  // this thread's state rows: kr and kr + 8 of the tile
  // Offset of element (row kr, column col0 + 2 cq) of a [K, V] state.
  const int64_t elem = (int64_t)(k0 + kr) * V + col0 + 2 * cq;
  const int64_t head_state = (int64_t)h * K * V;

  float acc[NT][4];
  {
    const float* src = init != nullptr ? init + (int64_t)n * H * K * V + head_state + elem : nullptr;
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      float2 a = make_float2(0.f, 0.f), b = a;
      if (src != nullptr) {
        a = *reinterpret_cast<const float2*>(src + 8 * j);
        b = *reinterpret_cast<const float2*>(src + 8 * V + 8 * j);
      }
      acc[j][0] = a.x, acc[j][1] = a.y, acc[j][2] = b.x, acc[j][3] = b.y;
    }
  }
  auto row0_of = [&](int step) { return sq.bos + (kFwd ? step : nchunks - 1 - step) * C; };
  // Issues chunk `step`'s loads into its stage, or an empty group past the
  // end, so that every step waits for the same group count.
  auto issue = [&](int step) {
    if (step < nchunks) {
      const int r = row0_of(step);
      scan_load<BV, kVec>(stage[step % kScanStages], x, y, gc, r, min(C, sq.eos - r), xs, ys, gs);
    } else {
      cp_async_commit();
    }
  };
#pragma unroll
  for (int i = 0; i < kScanStages - 1; ++i) issue(i);

  for (int step = 0; step < nchunks; ++step) {
    const int c = kFwd ? step : nchunks - 1 - step;
    {  // the state entering (forward) / the gradient leaving (backward) chunk c
      bf16* dst = per_chunk + (int64_t)(sq.chunk0 + c) * H * K * V + head_state + elem;
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        *reinterpret_cast<__nv_bfloat162*>(dst + 8 * j) = __floats2bfloat162_rn(acc[j][0], acc[j][1]);
        *reinterpret_cast<__nv_bfloat162*>(dst + 8 * V + 8 * j) = __floats2bfloat162_rn(acc[j][2], acc[j][3]);
      }
    }
    cp_async_wait_group<kScanStages - 2>();
    if (p.silu_inputs) {  // this thread's own copies of the stage have landed
      St& own = stage[step % kScanStages];
      silu_rows<kScanBK, St::LDX, kScanThreads>(own.x);
      if (kFwd) silu_rows<BV, St::LDY, kScanThreads>(own.y);
    }
    __syncthreads();  // this step's stage landed for all; all are done with the previous one
    issue(step + kScanStages - 1);
    const St& s = stage[step % kScanStages];

    const float* gl = s.g + (C - 1) * St::LDG;  // the chunk's last (cumulative) gate row
    const float bc0 = kVec ? gl[kr] : gl[0], bc1 = kVec ? gl[kr + 8] : gl[0];
    const float d0 = decay_exp(bc0), d1 = decay_exp(bc1);
#pragma unroll
    for (int j = 0; j < NT; ++j) acc[j][0] *= d0, acc[j][1] *= d0, acc[j][2] *= d1, acc[j][3] *= d1;

#pragma unroll
    for (int tb = 0; tb < C / 16; ++tb) {
      const int t0 = 16 * tb;
      // A = X^T (rows: state rows, cols: chunk rows): matrices (t0, k), (t0, k+8),
      // (t0+8, k), (t0+8, k+8) of X[t][k].
      unsigned a[4], ah[4];
      ldmatrix_x4_trans(a, s.x + (t0 + lane % 8 + 8 * (lane / 16)) * St::LDX + 16 * warp +
                               8 * ((lane / 8) % 2));
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int kk = kr + 8 * (r & 1), t = t0 + 2 * cq + 8 * (r >> 1);
        const float bk = r & 1 ? bc1 : bc0;
        float f0, f1;
        if constexpr (kVec) {
          const float b0 = s.g[t * St::LDG + kk], b1 = s.g[(t + 1) * St::LDG + kk];
          f0 = kFwd ? decay_exp(bk - b0) : p.scale * decay_exp(b0);
          f1 = kFwd ? decay_exp(bk - b1) : p.scale * decay_exp(b1);
        } else {
          f0 = kFwd ? decay_exp(bk - s.g[t]) : p.scale * decay_exp(s.g[t]);
          f1 = kFwd ? decay_exp(bk - s.g[t + 1]) : p.scale * decay_exp(s.g[t + 1]);
        }
        const float2 xv = unpack_bf16x2(a[r]);
        ah[r] = pack_bf16x2(__floats2bfloat162_rn(xv.x * f0, xv.y * f1));
      }
#pragma unroll
      for (int jp = 0; jp < NT / 2; ++jp) {
        // B = Y (rows: chunk rows, cols: V): matrices (t0, v), (t0+8, v),
        // (t0, v+8), (t0+8, v+8) -> n-tiles v (b[0], b[1]) and v + 8 (b[2], b[3]).
        unsigned b[4];
        ldmatrix_x4_trans(b, s.y + (t0 + lane % 8 + 8 * ((lane / 8) % 2)) * St::LDY + 16 * jp +
                                 8 * (lane / 16));
        mma_16816(acc[2 * jp], ah, b[0], b[1]);
        mma_16816(acc[2 * jp + 1], ah, b[2], b[3]);
      }
    }
  }
  if (last != nullptr) {
    float* dst = last + (int64_t)n * H * K * V + head_state + elem;
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      *reinterpret_cast<float2*>(dst + 8 * j) = make_float2(acc[j][0], acc[j][1]);
      *reinterpret_cast<float2*>(dst + 8 * V + 8 * j) = make_float2(acc[j][2], acc[j][3]);
    }
  }
}

}  // namespace scalelab::kernels::cuda
