// Gated RMSNorm, rows over warps as rms_norm.cu (columns.cuh), fp32 math on
// bf16 I/O: the gate (sigmoid or silu, before or after the norm) and Mamba2's
// D skip are applied in the same two passes as the norm, forward and backward,
// so the gate, the skip and their gradients cost no passes of their own.
// For rows of up to 2048 columns a lane keeps its chunks of the row in
// registers between the two passes (kNC > 0) and issues every load of the row
// before any arithmetic, instead of one chunk's loads at a time twice (the
// second time from L2 when the rows do not stay in L1). On the H200, ms a
// step at L12 d768: forward 1.09 -> 0.95 (Mamba2), 0.31 -> 0.25 (Lightning),
// 0.71 -> 0.58 (GDN); backward 0.70 -> 0.60 (Lightning), 1.57 -> 1.29 (GDN),
// 2.30 -> 2.27 (Mamba2, whose 168 registers leave 12 warps an SM).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <c10/util/Exception.h>

#include <type_traits>

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
  const float s = __fdividef(1.f, 1.f + __expf(-g));
  return silu ? Act{g * s, s * (1.f + g * (1.f - s))} : Act{s, s * (1.f - s)};
}

// One lane's share of a row as loaded: x, g, v (Mamba2's skip input) and dy,
// eight bf16 per uint4. Empty when kNC == 0 (every pass loads again).
template <int kNC>
struct RowRegs {
  uint4 x[kNC], g[kNC], v[kNC], e[kNC];
};
template <>
struct RowRegs<0> {};

// Loads chunk k at column i of ROW (into the registers when kNC > 0).
template <int kNC>
__device__ __forceinline__ void fetch(const GatedNormArgs& a, int64_t row, int k, int i,
                                      const bf16* dy, RowRegs<kNC>& r) {
  if constexpr (kNC > 0) {
    r.x[k] = *reinterpret_cast<const uint4*>(static_cast<const bf16*>(a.x) + row * a.d + i);
    r.g[k] = *reinterpret_cast<const uint4*>(static_cast<const bf16*>(a.g) + row * a.g_stride + i);
    if (a.v != nullptr)
      r.v[k] = *reinterpret_cast<const uint4*>(static_cast<const bf16*>(a.v) + row * a.d + i);
    if (dy != nullptr) r.e[k] = *reinterpret_cast<const uint4*>(dy + row * a.d + i);
  }
}

// x, g, v of chunk k as fp32 (from the registers when kNC > 0); u = x + v D.
template <int kNC>
__device__ __forceinline__ void inputs8(const GatedNormArgs& a, int64_t row, int k, int i,
                                        const RowRegs<kNC>& r, float u[8], float g[8],
                                        float v[8]) {
  if constexpr (kNC > 0) {
    unpack8(r.x[k], u);
    unpack8(r.g[k], g);
    if (a.v != nullptr) unpack8(r.v[k], v);
  } else {
    load8(static_cast<const bf16*>(a.x) + row * a.d + i, u);
    load8(static_cast<const bf16*>(a.g) + row * a.g_stride + i, g);
    if (a.v != nullptr) load8(static_cast<const bf16*>(a.v) + row * a.d + i, v);
  }
  if (a.v != nullptr) {
    const float dd = a.D[i / (a.d / a.heads)];
#pragma unroll
    for (int j = 0; j < 8; ++j) u[j] += v[j] * dd;
  } else {
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = 0.f;
  }
}

template <int kNC, class TY>
__device__ __forceinline__ void dy8(int64_t row, int d, int k, int i, const TY* dy,
                                    const RowRegs<kNC>& r, float e[8]) {
  if constexpr (kNC > 0)
    unpack8(r.e[k], e);
  else
    load8(dy + row * d + i, e);
}

// kL as in rms_norm.cu: 32, or 0 for row_lanes(d) at run time.
template <int kL, int kNC, class TY>
__global__ void __launch_bounds__(kWarps * 32)
    gated_fwd_kernel(GatedNormArgs a, TY* __restrict__ y, float* __restrict__ rstd) {
  const int L = kL ? kL : row_lanes(a.d), lane = threadIdx.x % 32, li = lane % L;
  const int64_t first = ((int64_t)blockIdx.x * kWarps + threadIdx.x / 32) * (32 / L);
  if (first >= a.rows) return;  // the whole warp (group_sum needs every lane of it)
  const int64_t row = first + lane / L;
  const bool valid = row < a.rows;
  RowRegs<kNC> regs;
  float ss = 0.f;
  if (valid) {
    for_chunks<kNC>(a.d, li, L, [&](int k, int i) { fetch<kNC>(a, row, k, i, nullptr, regs); });
    for_chunks<kNC>(a.d, li, L, [&](int k, int i) {
      float u[8], g[8], v[8];
      inputs8<kNC>(a, row, k, i, regs, u, g, v);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float s = a.before ? u[j] * act(g[j], a.silu).a : u[j];
        ss += s * s;
      }
    });
  }
  const float r = rsqrtf(group_sum(ss, L) / a.d + a.eps);
  if (!valid) return;
  for_chunks<kNC>(a.d, li, L, [&](int k, int i) {
    float u[8], g[8], v[8], w[8], o[8];
    inputs8<kNC>(a, row, k, i, regs, u, g, v);
    load8(a.w + i, w);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float ag = act(g[j], a.silu).a;
      o[j] = a.before ? u[j] * ag * r * w[j] : u[j] * r * w[j] * ag;
    }
    store8(y + row * a.d + i, o);
  });
  if (li == 0) rstd[row] = r;
}

template <int kL, int kNC, class TY>
__global__ void __launch_bounds__(kWarps * 32)
    gated_bwd_kernel(GatedNormArgs a, const TY* __restrict__ dy, const float* __restrict__ rstd,
                     bf16* __restrict__ dx, bf16* __restrict__ dg, bf16* __restrict__ dv,
                     float* __restrict__ partial) {
  static_assert(kNC == 0 || std::is_same_v<TY, bf16>, "registers hold bf16 rows");
  // Per warp [acc][warp_words(d)]: the weight gradient, and du * v with v.
  const int acc = a.v != nullptr ? 2 : 1, ww = warp_words(a.d), gw = group_words(a.d);
  const int L = kL ? kL : row_lanes(a.d), R = 32 / L;
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
    RowRegs<kNC> regs;
    // dn = dL/d(norm output); s = the normalised input.
    float dot = 0.f;
    if (valid) {
      if constexpr (kNC > 0)
        for_chunks<kNC>(a.d, li, L, [&](int k, int i) { fetch<kNC>(a, row, k, i, dy, regs); });
      for_chunks<kNC>(a.d, li, L, [&](int k, int i) {
        float u[8], g[8], v[8], w[8], e[8];
        inputs8<kNC>(a, row, k, i, regs, u, g, v);
        load8(a.w + i, w);
        dy8<kNC>(row, a.d, k, i, dy, regs, e);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const Act ag = act(g[j], a.silu);
          const float s = a.before ? u[j] * ag.a : u[j];
          const float dn = a.before ? e[j] : e[j] * ag.a;
          dot += dn * w[j] * s;
        }
      });
    }
    const float c = group_sum(dot, L) * r * r / a.d;
    if (!valid) continue;
    for_chunks<kNC>(a.d, li, L, [&](int k, int i) {
      float u[8], g[8], v[8], w[8], e[8], odx[8], odg[8], odv[8];
      inputs8<kNC>(a, row, k, i, regs, u, g, v);
      load8(a.w + i, w);
      dy8<kNC>(row, a.d, k, i, dy, regs, e);
      const float dd = a.v != nullptr ? a.D[i / (a.d / a.heads)] : 0.f;
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
    });
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

// The kernel for a row length: registers for the row when it fits in 8
// chunks a lane (and dy is bf16 in the backward), else the reloading loop.
#define SCALELAB_GATED_PICK(NAME)                                                         \
  template <class TY, bool kRegs>                                                         \
  auto pick_##NAME(int d) {                                                               \
    if constexpr (!kRegs) {                                                               \
      return row_lanes(d) < 32 ? NAME<0, 0, TY> : NAME<32, 0, TY>;                        \
    } else {                                                                              \
      if (row_lanes(d) < 32) return NAME<0, 1, TY>;                                       \
      if (d > 2048) return NAME<32, 0, TY>;                                               \
      if (d <= 512) return NAME<32, 2, TY>;                                               \
      if (d <= 768) return NAME<32, 3, TY>;                                               \
      if (d <= 1024) return NAME<32, 4, TY>;                                              \
      if (d <= 1536) return NAME<32, 6, TY>;                                              \
      return NAME<32, 8, TY>;                                                             \
    }                                                                                     \
  }
SCALELAB_GATED_PICK(gated_fwd_kernel)
SCALELAB_GATED_PICK(gated_bwd_kernel)
#undef SCALELAB_GATED_PICK

template <class TY>
void launch_gated_bwd(const GatedNormArgs& a, const void* dy, const float* rstd, void* dx,
                      void* dg, void* dv, float* partial, cudaStream_t st) {
  auto fn = pick_gated_bwd_kernel<TY, std::is_same_v<TY, bf16>>(a.d);
  // Once per kernel: the dynamic shared memory it may need (d <= 4096).
  static const void* configured[16] = {};
  for (auto& c : configured) {
    if (c == reinterpret_cast<const void*>(fn)) break;
    if (c != nullptr) continue;
    set_smem(reinterpret_cast<const void*>(fn),
             kWarps * 2 * warp_words(4096) * static_cast<int>(sizeof(float)));
    c = reinterpret_cast<const void*>(fn);
    break;
  }
  const int smem =
      kWarps * (a.v != nullptr ? 2 : 1) * warp_words(a.d) * static_cast<int>(sizeof(float));
  fn<<<rms_norm_backward_blocks(a.rows, a.d), kWarps * 32, smem, st>>>(
      a, static_cast<const TY*>(dy), rstd, static_cast<bf16*>(dx), static_cast<bf16*>(dg),
      static_cast<bf16*>(dv), partial);
}

}  // namespace

void gated_rms_norm_forward(const GatedNormArgs& a, void* y, float* rstd, void* stream) {
  if (a.rows == 0) return;
  const int per_block = kWarps * rows_per_warp(a.d);
  const int blocks = static_cast<int>((a.rows + per_block - 1) / per_block);
  auto st = static_cast<cudaStream_t>(stream);
  if (a.y_bf16)
    pick_gated_fwd_kernel<bf16, true>(a.d)<<<blocks, kWarps * 32, 0, st>>>(
        a, static_cast<bf16*>(y), rstd);
  else
    pick_gated_fwd_kernel<float, true>(a.d)<<<blocks, kWarps * 32, 0, st>>>(
        a, static_cast<float*>(y), rstd);
  check_launch("gated rms_norm forward");
}

void gated_rms_norm_backward(const GatedNormArgs& a, const void* dy, const float* rstd, void* dx,
                             void* dg, void* dv, float* partial, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  if (a.y_bf16)
    launch_gated_bwd<bf16>(a, dy, rstd, dx, dg, dv, partial, st);
  else
    launch_gated_bwd<float>(a, dy, rstd, dx, dg, dv, partial, st);
  check_launch("gated rms_norm backward");
}

}  // namespace scalelab::kernels::cuda
