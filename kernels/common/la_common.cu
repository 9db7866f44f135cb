// Shared pieces of the linear-attention kernels: the chunk-local gate cumsum
// and launch helpers. The heavy kernels live in one .cu per (family, K).
#include <c10/util/Exception.h>
#include <cuda_runtime.h>

#include "kernels/common/la_kernels.cuh"

namespace scalelab::kernels::cuda {

namespace {

// One thread per (chunk, head, gate column): an inclusive prefix sum over the
// chunk's rows, in order, so the result is the same on every run. A full
// chunk's 64 loads are all issued before the first add (they were a chain of
// dependent round trips: 28 us at T = 1k).
__global__ void chunk_cumsum_kernel(const float* __restrict__ g, float* __restrict__ gcum, int gk,
                                    LinearAttnParams p) {
  const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int width = p.heads * gk;
  if (idx >= (int64_t)p.num_chunks * width) return;
  const int col = static_cast<int>(idx % width), ci = static_cast<int>(idx / width);
  const Seq sq = seq_of(p, seq_of_chunk(p, ci));
  const int row0 = sq.bos + (ci - sq.chunk0) * C, rows = min(C, sq.eos - row0);
  const int64_t base = (int64_t)row0 * width + col;
  float acc = 0.f;
  if (rows == C) {
    float x[C];
#pragma unroll
    for (int r = 0; r < C; ++r) x[r] = g[base + (int64_t)r * width];
#pragma unroll
    for (int r = 0; r < C; ++r) {
      acc += x[r];
      gcum[base + (int64_t)r * width] = acc;
    }
    return;
  }
  for (int r = 0; r < rows; ++r) {
    acc += g[base + (int64_t)r * width];
    gcum[base + (int64_t)r * width] = acc;
  }
}

}  // namespace

void launch_chunk_cumsum(const float* g, float* gcum, int gk, const LinearAttnParams& p,
                         void* stream) {
  const int64_t total = (int64_t)p.num_chunks * p.heads * gk;
  if (total == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>((total + threads - 1) / threads);
  chunk_cumsum_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(g, gcum, gk, p);
  check_launch("linear-attention gate cumsum");
}

}  // namespace scalelab::kernels::cuda
