// Causal depthwise conv over time in [B, T, C]: each thread owns 8 channels
// and a slice of 32 time steps, slides a window of W inputs through registers
// (every input is read once per slice, plus W - 1 halo rows), and writes 8
// outputs with one 16-byte store. The backward recomputes the pre-activation,
// produces dx from the dz of the next W - 1 steps (a second register window)
// and sums the weight and bias gradients per slice, then per block in shared
// memory, into per-block partials (summed by the caller in a fixed order).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <c10/util/Exception.h>

#include "kernels/causal_conv1d/cuda.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/vec8.cuh"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kSlice = 32, kTx = 32, kTy = 4;  // time steps per thread; threads per block x, y

__device__ __forceinline__ float sigm(float z) { return 1.f / (1.f + __expf(-z)); }

template <int W, class T>
__global__ void __launch_bounds__(kTx* kTy)
    conv_fwd_kernel(ConvArgs a, const T* __restrict__ x, T* __restrict__ y) {
  const int c0 = (blockIdx.x * kTx + threadIdx.x) * 8;
  if (c0 >= a.c) return;
  const int b = blockIdx.z, t0 = (blockIdx.y * kTy + threadIdx.y) * kSlice;
  float w[W][8], bias[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    bias[j] = a.bias ? a.bias[c0 + j] : 0.f;
#pragma unroll
    for (int k = 0; k < W; ++k) w[k][j] = a.w[(c0 + j) * a.width + k];
  }
  const T* xb = x + b * a.x_sb + c0;
  float win[W][8];  // x[s - W + 1 .. s]
#pragma unroll
  for (int k = 0; k < W - 1; ++k) {
    const int s = t0 - (W - 1) + k;
    if (s >= 0) load8(xb + s * a.x_st, win[k + 1]);
    else
#pragma unroll
      for (int j = 0; j < 8; ++j) win[k + 1][j] = 0.f;
  }
  T* yb = y + ((int64_t)b * a.t) * a.c + c0;
  const int t1 = min(t0 + kSlice, a.t);
  for (int s = t0; s < t1; ++s) {
#pragma unroll
    for (int k = 0; k < W - 1; ++k)
#pragma unroll
      for (int j = 0; j < 8; ++j) win[k][j] = win[k + 1][j];
    load8(xb + s * a.x_st, win[W - 1]);
    float o[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      float z = bias[j];
#pragma unroll
      for (int k = 0; k < W; ++k) z += w[k][j] * win[k][j];
      o[j] = a.silu ? z * sigm(z) : z;
    }
    store8(yb + (int64_t)s * a.c, o);
  }
}

template <int W, class T>
__global__ void __launch_bounds__(kTx* kTy)
    conv_bwd_kernel(ConvArgs a, const T* __restrict__ x, const T* __restrict__ dy,
                    T* __restrict__ dx, float* __restrict__ partial) {
  __shared__ float red[kTy][kTx * 8][W + 1];
  const int c0 = (blockIdx.x * kTx + threadIdx.x) * 8;
  const bool live = c0 < a.c;
  const int b = blockIdx.z, t0 = (blockIdx.y * kTy + threadIdx.y) * kSlice;
  float gw[W][8] = {}, gb[8] = {};
  if (live) {
    float w[W][8], bias[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      bias[j] = a.bias ? a.bias[c0 + j] : 0.f;
#pragma unroll
      for (int k = 0; k < W; ++k) w[k][j] = a.w[(c0 + j) * a.width + k];
    }
    const T* xb = x + b * a.x_sb + c0;
    const int64_t ob = ((int64_t)b * a.t) * a.c + c0;
    float win[W][8], dzw[W][8] = {};
#pragma unroll
    for (int k = 0; k < W - 1; ++k) {
      const int s = t0 - (W - 1) + k;
      if (s >= 0 && s < a.t) load8(xb + s * a.x_st, win[k + 1]);
      else
#pragma unroll
        for (int j = 0; j < 8; ++j) win[k + 1][j] = 0.f;
    }
    const int t1 = min(t0 + kSlice, a.t);
    // s runs W - 1 past the slice: dx[t] needs dz[t .. t + W - 1].
    for (int s = t0; s < t1 + W - 1; ++s) {
#pragma unroll
      for (int k = 0; k < W - 1; ++k)
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          win[k][j] = win[k + 1][j];
          dzw[k][j] = dzw[k + 1][j];
        }
      float dz[8] = {};
      if (s < a.t) {
        float g[8];
        load8(xb + s * a.x_st, win[W - 1]);
        load8(dy + ob + (int64_t)s * a.c, g);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          float z = bias[j];
#pragma unroll
          for (int k = 0; k < W; ++k) z += w[k][j] * win[k][j];
          const float sg = sigm(z);
          dz[j] = a.silu ? g[j] * sg * (1.f + z * (1.f - sg)) : g[j];
        }
        if (s < t1) {
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            gb[j] += dz[j];
#pragma unroll
            for (int k = 0; k < W; ++k) gw[k][j] += dz[j] * win[k][j];
          }
        }
      }
#pragma unroll
      for (int j = 0; j < 8; ++j) dzw[W - 1][j] = dz[j];
      const int t = s - (W - 1);
      if (t >= t0 && t < t1) {
        float o[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          float acc = 0.f;
#pragma unroll
          for (int k = 0; k < W; ++k) acc += w[k][j] * dzw[W - 1 - k][j];
          o[j] = acc;
        }
        store8(dx + ob + (int64_t)t * a.c, o);
      }
    }
  }
  const int lc = threadIdx.x * 8;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
#pragma unroll
    for (int k = 0; k < W; ++k) red[threadIdx.y][lc + j][k] = gw[k][j];
    red[threadIdx.y][lc + j][W] = gb[j];
  }
  __syncthreads();
  if (threadIdx.y != 0 || !live) return;
  float* out = partial + ((int64_t)(b * gridDim.y + blockIdx.y) * a.c + c0) * (a.width + 1);
#pragma unroll
  for (int j = 0; j < 8; ++j)
#pragma unroll
    for (int k = 0; k <= W; ++k) {
      float s = 0.f;
#pragma unroll
      for (int y = 0; y < kTy; ++y) s += red[y][lc + j][k];
      out[j * (a.width + 1) + k] = s;
    }
}

dim3 grid_of(const ConvArgs& a) {
  return dim3((a.c / 8 + kTx - 1) / kTx, (a.t + kTy * kSlice - 1) / (kTy * kSlice), a.batch);
}

template <class T>
void fwd(const ConvArgs& a, const void* x, void* y, cudaStream_t st) {
  const dim3 g = grid_of(a), blk(kTx, kTy);
  auto* xi = static_cast<const T*>(x);
  auto* yo = static_cast<T*>(y);
  switch (a.width) {
    case 2: conv_fwd_kernel<2, T><<<g, blk, 0, st>>>(a, xi, yo); break;
    case 3: conv_fwd_kernel<3, T><<<g, blk, 0, st>>>(a, xi, yo); break;
    case 4: conv_fwd_kernel<4, T><<<g, blk, 0, st>>>(a, xi, yo); break;
    default: TORCH_CHECK(false, "causal_conv1d: width ", a.width, " has no CUDA kernel");
  }
  check_launch("causal_conv1d forward");
}

template <class T>
void bwd(const ConvArgs& a, const void* x, const void* dy, void* dx, float* p, cudaStream_t st) {
  const dim3 g = grid_of(a), blk(kTx, kTy);
  auto* xi = static_cast<const T*>(x);
  auto* gi = static_cast<const T*>(dy);
  auto* go = static_cast<T*>(dx);
  switch (a.width) {
    case 2: conv_bwd_kernel<2, T><<<g, blk, 0, st>>>(a, xi, gi, go, p); break;
    case 3: conv_bwd_kernel<3, T><<<g, blk, 0, st>>>(a, xi, gi, go, p); break;
    case 4: conv_bwd_kernel<4, T><<<g, blk, 0, st>>>(a, xi, gi, go, p); break;
    default: TORCH_CHECK(false, "causal_conv1d: width ", a.width, " has no CUDA kernel");
  }
  check_launch("causal_conv1d backward");
}

}  // namespace

void causal_conv1d_forward(const ConvArgs& a, const void* x, void* y, void* stream) {
  if (a.batch == 0 || a.t == 0) return;
  auto st = static_cast<cudaStream_t>(stream);
  a.bf16 ? fwd<bf16>(a, x, y, st) : fwd<float>(a, x, y, st);
}

int causal_conv1d_partials(const ConvArgs& a) {
  return a.batch * static_cast<int>(grid_of(a).y);
}

void causal_conv1d_backward(const ConvArgs& a, const void* x, const void* dy, void* dx,
                            float* dwb_partial, void* stream) {
  if (a.batch == 0 || a.t == 0) return;
  auto st = static_cast<cudaStream_t>(stream);
  a.bf16 ? bwd<bf16>(a, x, dy, dx, dwb_partial, st) : bwd<float>(a, x, dy, dx, dwb_partial, st);
}

}  // namespace scalelab::kernels::cuda
