// Fused RMSNorm: a row per warp or per lane group (columns.cuh), fp32
// statistics, 8-element vector accesses.
// Forward reads x once and writes y (and rstd); backward reads dy and x twice
// (the second time from L1) and writes dx, accumulating the weight gradient per
// warp in shared memory (each lane owns its columns: no atomics, so the sum is
// deterministic; slots laid out as columns.cuh says), then per block into
// dw_partial.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <c10/util/Exception.h>

#include <algorithm>
#include <type_traits>

#include "kernels/common/launch.cuh"
#include "kernels/common/vec8.cuh"
#include "kernels/rms_norm/columns.cuh"
#include "kernels/rms_norm/cuda.h"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kFwdWarps = 8, kBwdWarps = 4;

// TA = void: plain norm of x. Otherwise h = x + a is written to h (the
// residual stream) and normalised; the second pass rereads h from L1/L2.
// Rows lie over the warp as columns.cuh says.
// kL: the lanes of a row when known at compile time (32: d >= 256, the model's
// norms), 0 for row_lanes(d) at run time.
template <int kL, class TX, class TY, class TA>
__global__ void __launch_bounds__(kFwdWarps * 32)
    rms_norm_fwd_kernel(const TX* __restrict__ x, const float* __restrict__ w, TY* __restrict__ y,
                        float* __restrict__ rstd, int64_t rows, int d, float eps,
                        const TA* __restrict__ a, TX* __restrict__ h) {
  constexpr bool kRes = !std::is_void_v<TA>;
  const int L = kL ? kL : row_lanes(d), lane = threadIdx.x % 32, li = lane % L;
  const int64_t first = ((int64_t)blockIdx.x * kFwdWarps + threadIdx.x / 32) * (32 / L);
  if (first >= rows) return;  // the whole warp (group_sum needs every lane of it)
  const int64_t row = first + lane / L;
  const bool valid = row < rows;
  float ss = 0.f;
  if (valid)
    for (int i = li * 8; i < d; i += 8 * L) {
      float v[8];
      load8(x + row * d + i, v);
      if constexpr (kRes) {
        float r[8];
        load8(a + row * d + i, r);
#pragma unroll
        for (int j = 0; j < 8; ++j) v[j] += r[j];
        store8(h + row * d + i, v);
      }
#pragma unroll
      for (int j = 0; j < 8; ++j) ss += v[j] * v[j];
    }
  const float r = rsqrtf(group_sum(ss, L) / d + eps);
  __syncwarp();  // h written above by other lanes is read back below
  if (!valid) return;
  const TX* xr = (kRes ? h : x) + row * d;
  TY* yr = y + row * d;
  for (int i = li * 8; i < d; i += 8 * L) {
    float v[8], g[8];
    load8(xr + i, v);
    load8(w + i, g);
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = v[j] * r * g[j];
    store8(yr + i, v);
  }
  if (li == 0) rstd[row] = r;
}

// dx_i = r (w_i dy_i - x_i r^2 mean_j(dy_j w_j x_j)),  dw_i = sum_rows dy_i x_i r.
// TA = void: plain backward. Otherwise dx += dh (if given; the residual
// stream's own gradient) and dx is written once more, as da in TA.
// kNC > 0: a lane keeps its (at most kNC) chunks of x and dy in registers
// between the two passes and loads them all before any arithmetic.
template <int kNC, class TX, class TY>
struct BwdRegs {
  Raw8<TX> x[kNC];
  Raw8<TY> e[kNC];
};
template <class TX, class TY>
struct BwdRegs<0, TX, TY> {};

template <int kL, int kNC, class TX, class TY, class TA>
__global__ void __launch_bounds__(kBwdWarps * 32)
    rms_norm_bwd_kernel(const TY* __restrict__ dy, const TX* __restrict__ x,
                        const float* __restrict__ w, const float* __restrict__ rstd,
                        TX* __restrict__ dx, float* __restrict__ dw_partial, int64_t rows, int d,
                        const float* __restrict__ dh, TA* __restrict__ da) {
  constexpr bool kRes = !std::is_void_v<TA>;
  extern __shared__ float dw_smem[];  // [kBwdWarps][warp_words(d)]
  const int L = kL ? kL : row_lanes(d), R = 32 / L, lane = threadIdx.x % 32,
            warp = threadIdx.x / 32;
  const int li = lane % L, ww = warp_words(d), gw = group_words(d);
  for (int i = lane; i < ww; i += 32) dw_smem[warp * ww + i] = 0.f;
  float* mine = dw_smem + warp * ww + lane / L * gw;
  __syncwarp();
  const int64_t stride = (int64_t)gridDim.x * kBwdWarps * R;
  for (int64_t base = ((int64_t)blockIdx.x * kBwdWarps + warp) * R; base < rows; base += stride) {
    const int64_t row = base + lane / L;
    const bool valid = row < rows;
    const TX* xr = x + row * d;
    const TY* dyr = dy + row * d;
    const float r = valid ? rstd[row] : 0.f;
    BwdRegs<kNC, TX, TY> regs;
    // x and dy of chunk k at column i, from the registers when kNC > 0.
    auto inputs = [&](int k, int i, float a[8], float b[8]) {
      if constexpr (kNC > 0) {
        unpack8(regs.x[k], a);
        unpack8(regs.e[k], b);
      } else {
        load8(xr + i, a);
        load8(dyr + i, b);
      }
    };
    float dot = 0.f;
    if (valid) {
      if constexpr (kNC > 0)
        for_chunks<kNC>(d, li, L, [&](int k, int i) {
          regs.x[k] = load_raw8(xr + i);
          regs.e[k] = load_raw8(dyr + i);
        });
      for_chunks<kNC>(d, li, L, [&](int k, int i) {
        float a[8], b[8], g[8];
        inputs(k, i, a, b);
        load8(w + i, g);
#pragma unroll
        for (int j = 0; j < 8; ++j) dot += a[j] * b[j] * g[j];
      });
    }
    const float c = group_sum(dot, L) * r * r / d;
    if (!valid) continue;
    TX* dxr = dx + row * d;
    for_chunks<kNC>(d, li, L, [&](int k, int i) {
      float a[8], b[8], g[8], o[8];
      inputs(k, i, a, b);
      load8(w + i, g);
      float* acc = mine + i - li * 8 + li;  // + j L: column_slot(i + j, L)
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        o[j] = r * (g[j] * b[j] - a[j] * c);
        acc[j * L] += b[j] * a[j] * r;
      }
      if constexpr (kRes) {
        if (dh != nullptr) {
          float e[8];
          load8(dh + row * d + i, e);
#pragma unroll
          for (int j = 0; j < 8; ++j) o[j] += e[j];
        }
        store8(da + row * d + i, o);
      }
      store8(dxr + i, o);
    });
  }
  __syncthreads();
  for (int i = threadIdx.x; i < d; i += kBwdWarps * 32) {
    const int slot = column_slot(i, L);
    float s = 0.f;
    for (int k = 0; k < kBwdWarps; ++k)
      for (int g = 0; g < R; ++g) s += dw_smem[k * ww + g * gw + slot];
    dw_partial[(int64_t)blockIdx.x * d + i] = s;
  }
}

template <class TX, class TY, class TA = void>
void launch_fwd(const RmsNormFwd& a, cudaStream_t st) {
  const int per_block = kFwdWarps * rows_per_warp(a.d);
  const int blocks = static_cast<int>((a.rows + per_block - 1) / per_block);
  auto fn = row_lanes(a.d) == 32 ? rms_norm_fwd_kernel<32, TX, TY, TA>
                                  : rms_norm_fwd_kernel<0, TX, TY, TA>;
  fn<<<blocks, kFwdWarps * 32, 0, st>>>(
      static_cast<const TX*>(a.x), a.w, static_cast<TY*>(a.y), a.rstd, a.rows, a.d, a.eps,
      static_cast<const TA*>(a.a), reinterpret_cast<TX*>(a.h));
  check_launch("rms_norm forward");
}

template <class TX, class TY, class TA = void>
void launch_bwd(const RmsNormBwd& a, cudaStream_t st) {
  // Small rows (one chunk a lane) keep it in registers between the passes;
  // wide ones reload it: for d = 768 the registers were slower (1.51 against
  // 1.38 ms a step of 24 launches on the H200), the second pass hits L1.
  const int which = row_lanes(a.d) < 32 ? 0 : 1;
  auto fn = which == 0 ? rms_norm_bwd_kernel<0, 1, TX, TY, TA>
                       : rms_norm_bwd_kernel<32, 0, TX, TY, TA>;
  const int smem = kBwdWarps * warp_words(a.d) * static_cast<int>(sizeof(float));
  static bool configured[2] = {};  // per kernel; the attribute is per function
  if (!configured[which]) {
    set_smem(reinterpret_cast<const void*>(fn),
             kBwdWarps * warp_words(kRmsNormMaxDim) * sizeof(float));
    configured[which] = true;
  }
  fn<<<rms_norm_backward_blocks(a.rows, a.d), kBwdWarps * 32, smem, st>>>(
      static_cast<const TY*>(a.dy), static_cast<const TX*>(a.x), a.w, a.rstd,
      static_cast<TX*>(a.dx), a.dw_partial, a.rows, a.d, a.dh, static_cast<TA*>(a.da));
  check_launch("rms_norm backward");
}

}  // namespace

void rms_norm_forward(const RmsNormFwd& a, void* stream) {
  if (a.rows == 0) return;
  auto st = static_cast<cudaStream_t>(stream);
  if (a.a != nullptr) {  // residual form: x fp32
    TORCH_CHECK(!a.x_bf16, "add_rms_norm: the residual stream must be fp32 on the GPU");
    if (a.a_bf16)
      a.y_bf16 ? launch_fwd<float, bf16, bf16>(a, st) : launch_fwd<float, float, bf16>(a, st);
    else
      a.y_bf16 ? launch_fwd<float, bf16, float>(a, st) : launch_fwd<float, float, float>(a, st);
    return;
  }
  if (a.x_bf16) {
    a.y_bf16 ? launch_fwd<bf16, bf16>(a, st) : launch_fwd<bf16, float>(a, st);
  } else {
    a.y_bf16 ? launch_fwd<float, bf16>(a, st) : launch_fwd<float, float>(a, st);
  }
}

int rms_norm_backward_blocks(int64_t rows, int d) {
  const int64_t per_block = kBwdWarps * rows_per_warp(d);
  const int64_t by_rows = (rows + per_block - 1) / per_block;
  // Enough warps in flight to cover memory latency (a memory-bound pass), few
  // enough that the per-block partials stay small.
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(by_rows, 8 * sm_count())));
}

void rms_norm_backward(const RmsNormBwd& a, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  if (a.da != nullptr) {
    TORCH_CHECK(!a.x_bf16, "add_rms_norm: the residual stream must be fp32 on the GPU");
    if (a.a_bf16)
      a.y_bf16 ? launch_bwd<float, bf16, bf16>(a, st) : launch_bwd<float, float, bf16>(a, st);
    else
      a.y_bf16 ? launch_bwd<float, bf16, float>(a, st) : launch_bwd<float, float, float>(a, st);
    return;
  }
  if (a.x_bf16) {
    a.y_bf16 ? launch_bwd<bf16, bf16>(a, st) : launch_bwd<bf16, float>(a, st);
  } else {
    a.y_bf16 ? launch_bwd<float, bf16>(a, st) : launch_bwd<float, float>(a, st);
  }
}

}  // namespace scalelab::kernels::cuda
