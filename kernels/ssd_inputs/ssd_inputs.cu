// Mamba2's SSD inputs, one block of 256 threads per (b, t) row: the per-head
// dt and gate in shared memory, then q (C copied to every head), k (B times
// each head's dt) and v (x) written with 16-byte accesses. The backward sums
// the heads' dq and dk into dC and dB, reduces dk . B per head for dt, and
// writes per-row dt / A_log terms that the caller sums over rows.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/common/launch.cuh"
#include "kernels/common/vec8.cuh"
#include "kernels/ssd_inputs/cuda.h"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kThreads = 256, kMaxHeads = 256;

__device__ __forceinline__ float softplus(float x) { return x > 20.f ? x : log1pf(__expf(x)); }

__device__ __forceinline__ float read_dt(const SsdArgs& a, int64_t row, int h) {
  return a.dt_bf16 ? __bfloat162float(static_cast<const bf16*>(a.dt)[row * a.dt_stride + h])
                   : static_cast<const float*>(a.dt)[row * a.dt_stride + h];
}

__global__ void __launch_bounds__(kThreads)
    ssd_fwd_kernel(SsdArgs a, const bf16* __restrict__ xbc, bf16* __restrict__ q,
                   bf16* __restrict__ k, bf16* __restrict__ v, float* __restrict__ g) {
  __shared__ float dth[kMaxHeads];
  const int64_t row = blockIdx.x;
  const int H = a.heads, N = a.d_state, P = a.head_dim, di = H * P;
  for (int h = threadIdx.x; h < H; h += kThreads) {
    const float d = softplus(read_dt(a, row, h) + a.dt_bias[h]);
    dth[h] = d;
    g[row * H + h] = -__expf(a.a_log[h]) * d;
  }
  __syncthreads();
  const bf16* xr = xbc + row * a.xbc_stride;
  for (int e = threadIdx.x * 8; e < H * N; e += kThreads * 8) {
    const int h = e / N, n = e % N;
    float bv[8], cv[8];
    load8(xr + di + n, bv);
    load8(xr + di + N + n, cv);
#pragma unroll
    for (int j = 0; j < 8; ++j) bv[j] *= dth[h];
    store8(q + row * H * N + e, cv);
    store8(k + row * H * N + e, bv);
  }
  for (int e = threadIdx.x * 8; e < di; e += kThreads * 8)
    *reinterpret_cast<uint4*>(v + row * di + e) = *reinterpret_cast<const uint4*>(xr + e);
}

__global__ void __launch_bounds__(kThreads)
    ssd_bwd_kernel(SsdArgs a, const bf16* __restrict__ xbc, const bf16* __restrict__ dq,
                   const bf16* __restrict__ dk, const bf16* __restrict__ dv,
                   const float* __restrict__ dg, bf16* __restrict__ dxbc, float* __restrict__ ddt,
                   float* __restrict__ dalog) {
  __shared__ float dth[kMaxHeads];
  const int64_t row = blockIdx.x;
  const int H = a.heads, N = a.d_state, P = a.head_dim, di = H * P, width = di + 2 * N;
  for (int h = threadIdx.x; h < H; h += kThreads)
    dth[h] = softplus(read_dt(a, row, h) + a.dt_bias[h]);
  __syncthreads();
  const bf16* xr = xbc + row * a.xbc_stride;
  bf16* out = dxbc + row * width;
  for (int e = threadIdx.x * 8; e < di; e += kThreads * 8)
    *reinterpret_cast<uint4*>(out + e) = *reinterpret_cast<const uint4*>(dv + row * di + e);
  // dB[n] = sum_h dk[h, n] dt_h, dC[n] = sum_h dq[h, n]: 8 columns a thread.
  for (int n = threadIdx.x * 8; n < N; n += kThreads * 8) {
    float db[8] = {}, dc[8] = {};
    for (int h = 0; h < H; ++h) {
      float x[8], y[8];
      load8(dk + row * H * N + h * N + n, x);
      load8(dq + row * H * N + h * N + n, y);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        db[j] += x[j] * dth[h];
        dc[j] += y[j];
      }
    }
    store8(out + di + n, db);
    store8(out + di + N + n, dc);
  }
  // d dt_h = dk[h] . B + dg[h] * (-exp(A_log[h])); one warp a head.
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int h = warp; h < H; h += kThreads / 32) {
    float s = 0.f;
    for (int n = lane; n < N; n += 32)
      s += __bfloat162float(dk[row * H * N + h * N + n]) * __bfloat162float(xr[di + n]);
    s = warp_sum(s);
    if (lane == 0) {
      const float graw = dg[row * H + h];
      const float decay = -__expf(a.a_log[h]);
      const float dd = s + graw * decay;
      const float pre = read_dt(a, row, h) + a.dt_bias[h];
      ddt[row * H + h] = pre > 20.f ? dd : dd / (1.f + __expf(-pre));  // softplus' = sigmoid
      dalog[row * H + h] = graw * decay * dth[h];
    }
  }
}

}  // namespace

void ssd_inputs_forward(const SsdArgs& a, const void* xbc, void* q, void* k, void* v, float* g,
                        void* stream) {
  if (a.rows == 0) return;
  ssd_fwd_kernel<<<static_cast<unsigned>(a.rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      a, static_cast<const bf16*>(xbc), static_cast<bf16*>(q), static_cast<bf16*>(k),
      static_cast<bf16*>(v), g);
  check_launch("ssd inputs forward");
}

void ssd_inputs_backward(const SsdArgs& a, const void* xbc, const void* dq, const void* dk,
                         const void* dv, const float* dg, void* dxbc, float* ddt, float* dalog_rows,
                         void* stream) {
  if (a.rows == 0) return;
  ssd_bwd_kernel<<<static_cast<unsigned>(a.rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      a, static_cast<const bf16*>(xbc), static_cast<const bf16*>(dq), static_cast<const bf16*>(dk),
      static_cast<const bf16*>(dv), dg, static_cast<bf16*>(dxbc), ddt, dalog_rows);
  check_launch("ssd inputs backward");
}

}  // namespace scalelab::kernels::cuda
