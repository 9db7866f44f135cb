// Fused SwiGLU gating: one thread per 8 output columns of a row, fp32 math.
// Backward: da = dy * b * s (1 + a (1 - s)), db = dy * a s, with s = sigmoid(a).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/common/launch.cuh"
#include "kernels/common/vec8.cuh"
#include "kernels/swiglu/cuda.h"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kThreads = 256;

__device__ __forceinline__ float sigmoidf(float x) { return 1.f / (1.f + __expf(-x)); }

template <class T>
__global__ void swiglu_fwd_kernel(const T* __restrict__ h, T* __restrict__ y, int64_t rows, int f) {
  const int64_t groups = (int64_t)rows * (f / 8);
  for (int64_t g = (int64_t)blockIdx.x * kThreads + threadIdx.x; g < groups;
       g += (int64_t)gridDim.x * kThreads) {
    const int64_t row = g / (f / 8);
    const int col = static_cast<int>(g % (f / 8)) * 8;
    float a[8], b[8], o[8];
    load8(h + row * 2 * f + col, a);
    load8(h + row * 2 * f + f + col, b);
#pragma unroll
    for (int j = 0; j < 8; ++j) o[j] = a[j] * sigmoidf(a[j]) * b[j];
    store8(y + row * f + col, o);
  }
}

template <class T>
__global__ void swiglu_bwd_kernel(const T* __restrict__ h, const T* __restrict__ dy,
                                  T* __restrict__ dh, int64_t rows, int f) {
  const int64_t groups = (int64_t)rows * (f / 8);
  for (int64_t g = (int64_t)blockIdx.x * kThreads + threadIdx.x; g < groups;
       g += (int64_t)gridDim.x * kThreads) {
    const int64_t row = g / (f / 8);
    const int col = static_cast<int>(g % (f / 8)) * 8;
    float a[8], b[8], d[8], da[8], db[8];
    load8(h + row * 2 * f + col, a);
    load8(h + row * 2 * f + f + col, b);
    load8(dy + row * f + col, d);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float s = sigmoidf(a[j]);
      da[j] = d[j] * b[j] * s * (1.f + a[j] * (1.f - s));
      db[j] = d[j] * a[j] * s;
    }
    store8(dh + row * 2 * f + col, da);
    store8(dh + row * 2 * f + f + col, db);
  }
}

int grid_for(int64_t rows, int f) {
  const int64_t groups = rows * (f / 8);
  const int64_t want = (groups + kThreads - 1) / kThreads;
  const int64_t cap = static_cast<int64_t>(sm_count()) * 16;
  return static_cast<int>(want < cap ? (want > 0 ? want : 1) : cap);
}

}  // namespace

void swiglu_forward(const void* h, void* y, int64_t rows, int f, bool is_bf16, void* stream) {
  if (rows == 0) return;
  auto st = static_cast<cudaStream_t>(stream);
  if (is_bf16)
    swiglu_fwd_kernel<<<grid_for(rows, f), kThreads, 0, st>>>(static_cast<const bf16*>(h),
                                                              static_cast<bf16*>(y), rows, f);
  else
    swiglu_fwd_kernel<<<grid_for(rows, f), kThreads, 0, st>>>(static_cast<const float*>(h),
                                                              static_cast<float*>(y), rows, f);
  check_launch("swiglu forward");
}

void swiglu_backward(const void* h, const void* dy, void* dh, int64_t rows, int f, bool is_bf16,
                     void* stream) {
  if (rows == 0) return;
  auto st = static_cast<cudaStream_t>(stream);
  if (is_bf16)
    swiglu_bwd_kernel<<<grid_for(rows, f), kThreads, 0, st>>>(
        static_cast<const bf16*>(h), static_cast<const bf16*>(dy), static_cast<bf16*>(dh), rows, f);
  else
    swiglu_bwd_kernel<<<grid_for(rows, f), kThreads, 0, st>>>(
        static_cast<const float*>(h), static_cast<const float*>(dy), static_cast<float*>(dh), rows,
        f);
  check_launch("swiglu backward");
}

}  // namespace scalelab::kernels::cuda
