// Gated RMSNorm, rows over warps as rms_norm.cu (columns.cuh), fp32 math on bf16 I/O:
// the gate (sigmoid or silu, before or after the norm) and Mamba2's D skip
// are applied in the same two passes as the norm, forward and backward, so
// the gate, the skip and their gradients cost no passes of their own.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <c10/util/Exception.h>

#include "kernels/common/launch.cuh"
#include "kernels/common/vec8.cuh"
#include "kernels/rms_norm/columns.cuh"
#include "kernels/rms_norm/cuda.h"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kWarps = 4;

struct Act {
  float a, da;  // act(g) and act'(g)
};
__device__ __forceinline__ Act act(float g, bool silu) {
  const float s = 1.f / (1.f + __expf(-g));
  return silu ? Act{g * s, s * (1.f + g * (1.f - s))} : Act{s, s * (1.f - s)};
}

// u and the normalised input s for 8 columns at i of ROW.
__device__ __forceinline__ void inputs8(const GatedNormArgs& a, int64_t row, int i, float u[8],
                                        float g[8]) {
  load8(static_cast<const bf16*>(a.x) + row * a.d + i, u);
  load8(static_cast<const bf16*>(a.g) + row * a.g_stride + i, g);
  if (a.v != nullptr) {
    float v[8];
    load8(static_cast<const bf16*>(a.v) + row * a.d + i, v);
    const float dd = a.D[i / (a.d / a.heads)];
#pragma unroll
    for (int j = 0; j < 8; ++j) u[j] += v[j] * dd;
  }
}

template <class TY>
__global__ void __launch_bounds__(kWarps * 32)
    gated_fwd_kernel(GatedNormArgs a, TY* __restrict__ y, float* __restrict__ rstd) {
  const int L = row_lanes(a.d), lane = threadIdx.x % 32, li = lane % L;
  const int64_t first = ((int64_t)blockIdx.x * kWarps + threadIdx.x / 32) * (32 / L);
  if (first >= a.rows) return;  // the whole warp (group_sum needs every lane of it)
  const int64_t row = first + lane / L;
  const bool valid = row < a.rows;
  float ss = 0.f;
  if (valid)
    for (int i = li * 8; i < a.d; i += 8 * L) {
      float u[8], g[8];
      inputs8(a, row, i, u, g);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float s = a.before ? u[j] * act(g[j], a.silu).a : u[j];
        ss += s * s;
      }
    }
  const float r = rsqrtf(group_sum(ss, L) / a.d + a.eps);
  if (!valid) return;
  for (int i = li * 8; i < a.d; i += 8 * L) {
    float u[8], g[8], w[8], o[8];
    inputs8(a, row, i, u, g);
    load8(a.w + i, w);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float ag = act(g[j], a.silu).a;
      o[j] = a.before ? u[j] * ag * r * w[j] : u[j] * r * w[j] * ag;
    }
    store8(y + row * a.d + i, o);
  }
  if (li == 0) rstd[row] = r;
}

template <class TY>
__global__ void __launch_bounds__(kWarps * 32)
    gated_bwd_kernel(GatedNormArgs a, const TY* __restrict__ dy, const float* __restrict__ rstd,
                     bf16* __restrict__ dx, bf16* __restrict__ dg, bf16* __restrict__ dv,
                     float* __restrict__ partial) {
  // Per warp [acc][warp_words(d)]: the weight gradient, and du * v with v.
  const int acc = a.v != nullptr ? 2 : 1, ww = warp_words(a.d), gw = group_words(a.d);
  const int L = row_lanes(a.d), R = 32 / L;
  extern __shared__ float sm[];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, li = lane % L;
  for (int i = lane; i < acc * ww; i += 32) sm[warp * acc * ww + i] = 0.f;
  float* mw = sm + warp * acc * ww + lane / L * gw;
  float* md = mw + ww;
  __syncwarp();
  const int64_t stride = (int64_t)gridDim.x * kWarps * R;
  for (int64_t base = ((int64_t)blockIdx.x * kWarps + warp) * R; base < a.rows; base += stride) {
    const int64_t row = base + lane / L;
    const bool valid = row < a.rows;
    const float r = valid ? rstd[row] : 0.f;
    const TY* dyr = dy + row * a.d;
    // dn = dL/d(norm output); s = the normalised input.
    float dot = 0.f;
    if (valid)
      for (int i = li * 8; i < a.d; i += 8 * L) {
        float u[8], g[8], w[8], e[8];
        inputs8(a, row, i, u, g);
        load8(a.w + i, w);
        load8(dyr + i, e);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const Act ag = act(g[j], a.silu);
          const float s = a.before ? u[j] * ag.a : u[j];
          const float dn = a.before ? e[j] : e[j] * ag.a;
          dot += dn * w[j] * s;
        }
      }
    const float c = group_sum(dot, L) * r * r / a.d;
    if (!valid) continue;
    for (int i = li * 8; i < a.d; i += 8 * L) {
      float u[8], g[8], w[8], e[8], odx[8], odg[8], odv[8];
      inputs8(a, row, i, u, g);
      load8(a.w + i, w);
      load8(dyr + i, e);
      const float dd = a.v != nullptr ? a.D[i / (a.d / a.heads)] : 0.f;
      float v[8] = {};
      if (a.v != nullptr) load8(static_cast<const bf16*>(a.v) + row * a.d + i, v);
      const int at = i - li * 8 + li;  // + j L: column_slot(i + j, L)
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const Act ag = act(g[j], a.silu);
        const float s = a.before ? u[j] * ag.a : u[j];
        const float dn = a.before ? e[j] : e[j] * ag.a;
        const float ds = r * (w[j] * dn - s * c);
        mw[at + j * L] += dn * s * r;
        const float du = a.before ? ds * ag.a : ds;
        odg[j] = a.before ? ds * u[j] * ag.da : e[j] * s * r * w[j] * ag.da;
        odx[j] = du;
        odv[j] = du * dd;
        if (a.v != nullptr) md[at + j * L] += du * v[j];
      }
      store8(dx + row * a.d + i, odx);
      store8(dg + row * a.d + i, odg);  // dense, whatever g's stride
      if (dv != nullptr) store8(dv + row * a.d + i, odv);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < acc * a.d; i += kWarps * 32) {
    const int which = i >= a.d, slot = which * ww + column_slot(i - which * a.d, L);
    float s = 0.f;
    for (int k = 0; k < kWarps; ++k)
      for (int g = 0; g < R; ++g) s += sm[k * acc * ww + g * gw + slot];
    partial[(int64_t)blockIdx.x * acc * a.d + i] = s;
  }
}

}  // namespace

void gated_rms_norm_forward(const GatedNormArgs& a, void* y, float* rstd, void* stream) {
  if (a.rows == 0) return;
  const int per_block = kWarps * rows_per_warp(a.d);
  const int blocks = static_cast<int>((a.rows + per_block - 1) / per_block);
  auto st = static_cast<cudaStream_t>(stream);
  if (a.y_bf16)
    gated_fwd_kernel<bf16><<<blocks, kWarps * 32, 0, st>>>(a, static_cast<bf16*>(y), rstd);
  else
    gated_fwd_kernel<float><<<blocks, kWarps * 32, 0, st>>>(a, static_cast<float*>(y), rstd);
  check_launch("gated rms_norm forward");
}

void gated_rms_norm_backward(const GatedNormArgs& a, const void* dy, const float* rstd, void* dx,
                             void* dg, void* dv, float* partial, void* stream) {
  const int blocks = rms_norm_backward_blocks(a.rows, a.d);
  const int smem =
      kWarps * (a.v != nullptr ? 2 : 1) * warp_words(a.d) * static_cast<int>(sizeof(float));
  const int most = kWarps * 2 * warp_words(4096) * static_cast<int>(sizeof(float));
  auto st = static_cast<cudaStream_t>(stream);
  auto* dxo = static_cast<bf16*>(dx);
  auto* dgo = static_cast<bf16*>(dg);
  auto* dvo = static_cast<bf16*>(dv);
  if (a.y_bf16) {
    static bool set = false;
    if (!set) set_smem(reinterpret_cast<const void*>(gated_bwd_kernel<bf16>), most);
    set = true;
    gated_bwd_kernel<bf16><<<blocks, kWarps * 32, smem, st>>>(a, static_cast<const bf16*>(dy), rstd,
                                                              dxo, dgo, dvo, partial);
  } else {
    static bool set = false;
    if (!set) set_smem(reinterpret_cast<const void*>(gated_bwd_kernel<float>), most);
    set = true;
    gated_bwd_kernel<float><<<blocks, kWarps * 32, smem, st>>>(a, static_cast<const float*>(dy),
                                                               rstd, dxo, dgo, dvo, partial);
  }
  check_launch("gated rms_norm backward");
}

}  // namespace scalelab::kernels::cuda
