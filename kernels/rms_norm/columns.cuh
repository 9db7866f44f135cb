// How the RMSNorm kernels (rms_norm.cu, gated.cu) lay rows over a warp, and
// where their per-warp column accumulators (weight gradients) live.
//
// Rows: a row of d columns is read as d / 8 vectors by a group of L lanes
// (row_lanes: the smallest power of two covering d / 8, at most 32), and a
// warp holds 32 / L such groups, one row each. One warp per row left 3/4 of
// the lanes idle on GDN's per-head norms (d = 64 and 128).
//
// Accumulators: lane l of a group owns columns 8 L k + 8 l .. + 7, and the
// accumulator of column c lives at column_slot(c, L), so that the L lanes
// adding their j-th column touch L consecutive words; groups are group_words
// apart, which puts the groups of a warp on different banks too. Plain column
// order (slot = c) put the lanes 8 words apart: an 8-way bank conflict on every
// add, which cost about as much as the kernel's memory traffic.
#pragma once

namespace scalelab::kernels::cuda {

__host__ __device__ constexpr int row_lanes(int d) {
  int l = 1;
  while (l < 32 && l * 8 < d) l *= 2;
  return l;
}

__host__ __device__ constexpr int rows_per_warp(int d) { return 32 / row_lanes(d); }

// Words of one group's accumulator (d % 8 == 0): whole spans of 8 L columns,
// plus L words that shift the next group by L banks.
__host__ __device__ constexpr int group_words(int d) {
  const int span = 8 * row_lanes(d);
  return (d + span - 1) / span * span + (row_lanes(d) < 32 ? row_lanes(d) : 0);
}

__host__ __device__ constexpr int warp_words(int d) { return rows_per_warp(d) * group_words(d); }

__device__ __forceinline__ int column_slot(int c, int lanes) {
  const int span = 8 * lanes;
  return c / span * span + (c % 8) * lanes + c % span / 8;
}

// Sum over the LANES lanes of each group; every lane of the warp must call it.
__device__ __forceinline__ float group_sum(float x, int lanes) {
  for (int o = lanes / 2; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// F(k, i) for a lane's chunks k of a row (8 columns at i). kNC > 0: at most
// kNC of them, unrolled (so register arrays indexed by k stay registers).
template <int kNC, class F>
__device__ __forceinline__ void for_chunks(int d, int li, int L, F&& f) {
  if constexpr (kNC > 0) {
#pragma unroll
    for (int k = 0; k < kNC; ++k) {
      const int i = li * 8 + k * 8 * L;
      if (i < d) f(k, i);
    }
  } else {
    for (int i = li * 8, k = 0; i < d; i += 8 * L, ++k) f(k, i);
  }
}

}  // namespace scalelab::kernels::cuda
