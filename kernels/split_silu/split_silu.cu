// split_silu: one thread per 8 columns of h (grid-stride), fp32 math. The
// forward writes silu(h) into the part that holds the column; the backward
// reads that part's gradient (zeros when it has none) and writes
// dh = dy * s (1 + h (1 - s)), s = sigmoid(h), into the packed layout.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/common/launch.cuh"
#include "kernels/common/vec8.cuh"
#include "kernels/split_silu/cuda.h"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kThreads = 256;

__device__ __forceinline__ float sigm(float x) { return __fdividef(1.f, 1.f + __expf(-x)); }

// The part holding column col of a row, and the column within it.
__device__ __forceinline__ int part_of(const SplitSiluArgs& a, int col, int* at) {
  int p = 0, off = 0;
  while (p + 1 < a.parts && col >= off + a.size[p]) off += a.size[p++];
  *at = col - off;
  return p;
}

// F(row, col, part, column in the part) for every 8 columns of h, grid-stride.
template <class F>
__device__ __forceinline__ void for_groups(const SplitSiluArgs& a, F&& f) {
  const int per_row = a.n / 8;
  const int64_t groups = a.rows * per_row;
  for (int64_t g = (int64_t)blockIdx.x * kThreads + threadIdx.x; g < groups;
       g += (int64_t)gridDim.x * kThreads) {
    const int64_t row = g / per_row;
    const int col = static_cast<int>(g % per_row) * 8;
    int at;
    const int p = part_of(a, col, &at);
    f(row, col, p, at);
  }
}

template <class T>
__global__ void split_silu_fwd_kernel(SplitSiluArgs a, const T* __restrict__ h) {
  for_groups(a, [&](int64_t row, int col, int p, int at) {
    float x[8];
    load8(h + row * a.n + col, x);
#pragma unroll
    for (int j = 0; j < 8; ++j) x[j] *= sigm(x[j]);
    store8(static_cast<T*>(a.part[p]) + row * a.size[p] + at, x);
  });
}

template <class T>
__global__ void split_silu_bwd_kernel(SplitSiluArgs a, const T* __restrict__ h,
                                      T* __restrict__ dh) {
  for_groups(a, [&](int64_t row, int col, int p, int at) {
    float o[8] = {};
    if (a.part[p] != nullptr) {
      float x[8], d[8];
      load8(h + row * a.n + col, x);
      load8(static_cast<const T*>(a.part[p]) + row * a.size[p] + at, d);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float s = sigm(x[j]);
        o[j] = d[j] * s * (1.f + x[j] * (1.f - s));
      }
    }
    store8(dh + row * a.n + col, o);
  });
}

int grid_for(const SplitSiluArgs& a) {
  const int64_t want = (a.rows * (a.n / 8) + kThreads - 1) / kThreads;
  const int64_t cap = static_cast<int64_t>(sm_count()) * 16;
  return static_cast<int>(want < cap ? (want > 0 ? want : 1) : cap);
}

}  // namespace

void split_silu_forward(const SplitSiluArgs& a, const void* h, void* stream) {
  if (a.rows == 0) return;
  auto st = static_cast<cudaStream_t>(stream);
  if (a.bf16)
    split_silu_fwd_kernel<<<grid_for(a), kThreads, 0, st>>>(a, static_cast<const bf16*>(h));
  else
    split_silu_fwd_kernel<<<grid_for(a), kThreads, 0, st>>>(a, static_cast<const float*>(h));
  check_launch("split_silu forward");
}

void split_silu_backward(const SplitSiluArgs& a, const void* h, void* dh, void* stream) {
  if (a.rows == 0) return;
  auto st = static_cast<cudaStream_t>(stream);
  if (a.bf16)
    split_silu_bwd_kernel<<<grid_for(a), kThreads, 0, st>>>(a, static_cast<const bf16*>(h),
                                                            static_cast<bf16*>(dh));
  else
    split_silu_bwd_kernel<<<grid_for(a), kThreads, 0, st>>>(a, static_cast<const float*>(h),
                                                            static_cast<float*>(dh));
  check_launch("split_silu backward");
}

}  // namespace scalelab::kernels::cuda
