// Cross-entropy over rows of bf16 logits: one block per row. Pass 1 keeps an
// online (max, sum of exp) per thread and reduces it over the block; pass 2
// (training) rereads the row, from L2 for rows of up to a few hundred KB, and
// writes the gradient over the logits in place.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>

#include "kernels/common/launch.cuh"
#include "kernels/common/vec8.cuh"
#include "kernels/cross_entropy/cuda.h"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kThreads = 256;

__device__ __forceinline__ void merge(float& m, float& s, float m2, float s2) {
  const float mx = fmaxf(m, m2);
  s = (m == -FLT_MAX ? 0.f : s * __expf(m - mx)) + (m2 == -FLT_MAX ? 0.f : s2 * __expf(m2 - mx));
  m = mx;
}

__global__ void __launch_bounds__(kThreads)
    ce_rows_kernel(bf16* __restrict__ logits, const int64_t* __restrict__ targets,
                   float* __restrict__ loss, int vocab, float grad_scale, bool write_grad) {
  __shared__ float sm[kThreads / 32], ss[kThreads / 32];
  __shared__ float lse_shared;
  const int64_t row = blockIdx.x;
  bf16* x = logits + row * vocab;
  float m = -FLT_MAX, s = 0.f;
  for (int i = threadIdx.x * 8; i < vocab; i += kThreads * 8) {
    float v[8];
    load8(x + i, v);
    float mx = v[0];
#pragma unroll
    for (int j = 1; j < 8; ++j) mx = fmaxf(mx, v[j]);
    float part = 0.f;
#pragma unroll
    for (int j = 0; j < 8; ++j) part += __expf(v[j] - mx);
    merge(m, s, mx, part);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    merge(m, s, m2, s2);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sm[warp] = m;
    ss[warp] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float M = sm[0], S = ss[0];
    for (int w = 1; w < kThreads / 32; ++w) merge(M, S, sm[w], ss[w]);
    const float lse = M + __logf(S);
    const int64_t t = targets[row];
    loss[row] = lse - __bfloat162float(x[t]);
    lse_shared = lse;
  }
  __syncthreads();
  if (!write_grad) return;
  const float lse = lse_shared;
  const int64_t t = targets[row];
  for (int i = threadIdx.x * 8; i < vocab; i += kThreads * 8) {
    float v[8];
    load8(x + i, v);
#pragma unroll
    for (int j = 0; j < 8; ++j)
      v[j] = (__expf(v[j] - lse) - (i + j == t ? 1.f : 0.f)) * grad_scale;
    store8(x + i, v);
  }
}

}  // namespace

void cross_entropy_rows(void* logits, const int64_t* targets, float* loss, int64_t rows,
                        int vocab, float grad_scale, bool write_grad, void* stream) {
  if (rows == 0) return;
  ce_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<bf16*>(logits), targets, loss, vocab, grad_scale, write_grad);
  check_launch("cross-entropy rows");
}

}  // namespace scalelab::kernels::cuda
