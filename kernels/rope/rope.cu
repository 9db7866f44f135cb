// Fused RoPE on a packed qkv: one thread per (row, head, 8 values). For a q or
// k head the 8 values are 4 rotation pairs (i..i+3 with i+hd/2..i+hd/2+3);
// for a v head, 8 consecutive values copied. The backward rotates by -angle.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/common/launch.cuh"
#include "kernels/rope/cuda.h"

namespace scalelab::kernels::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kThreads = 256;

__device__ __forceinline__ void load4(const bf16* p, float v[4]) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
  const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
  v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}

__device__ __forceinline__ void store4(bf16* p, const float v[4]) {
  uint2 u;
  *reinterpret_cast<__nv_bfloat162*>(&u.x) = __floats2bfloat162_rn(v[0], v[1]);
  *reinterpret_cast<__nv_bfloat162*>(&u.y) = __floats2bfloat162_rn(v[2], v[3]);
  *reinterpret_cast<uint2*>(p) = u;
}

// kFwd: src = qkv (packed), dst = q|k|v.  !kFwd: src = dq|dk|dv, dst = dqkv.
template <bool kFwd>
__global__ void rope_kernel(RopeArgs a, const bf16* __restrict__ packed_in, const bf16* __restrict__ in_q,
                            const bf16* __restrict__ in_k, const bf16* __restrict__ in_v,
                            bf16* __restrict__ out_q, bf16* __restrict__ out_k,
                            bf16* __restrict__ out_v, bf16* __restrict__ packed_out) {
  const int all = a.heads + 2 * a.kv_heads, groups = a.hd / 8, half = a.hd / 2;
  const int64_t total = a.rows * all * groups;
  for (int64_t w = (int64_t)blockIdx.x * kThreads + threadIdx.x; w < total;
       w += (int64_t)gridDim.x * kThreads) {
    const int j = static_cast<int>(w % groups);
    const int head = static_cast<int>((w / groups) % all);
    const int64_t row = w / ((int64_t)groups * all);
    // Where this head lives unpacked: its tensor, its head index there, its width.
    const bf16* src_u;
    bf16* dst_u;
    int h, nh;
    if (head < a.heads) {
      src_u = in_q; dst_u = out_q; h = head; nh = a.heads;
    } else if (head < a.heads + a.kv_heads) {
      src_u = in_k; dst_u = out_k; h = head - a.heads; nh = a.kv_heads;
    } else {
      src_u = in_v; dst_u = out_v; h = head - a.heads - a.kv_heads; nh = a.kv_heads;
    }
    const int64_t packed = (row * all + head) * a.hd;
    const int64_t unpacked = (row * nh + h) * a.hd;
    const bf16* src = kFwd ? packed_in + packed : src_u + unpacked;
    bf16* dst = kFwd ? dst_u + unpacked : packed_out + packed;
    if (head >= a.heads + a.kv_heads) {  // v: a copy
      *reinterpret_cast<uint4*>(dst + j * 8) = *reinterpret_cast<const uint4*>(src + j * 8);
      continue;
    }
    const int i = j * 4;
    const int64_t pos = a.pos0 + row % a.t;
    float x1[4], x2[4], y1[4], y2[4];
    load4(src + i, x1);
    load4(src + half + i, x2);
    const float4 c = *reinterpret_cast<const float4*>(a.cos + pos * half + i);
    const float4 s4 = *reinterpret_cast<const float4*>(a.sin + pos * half + i);
    const float cs[4] = {c.x, c.y, c.z, c.w};
    const float sn[4] = {kFwd ? s4.x : -s4.x, kFwd ? s4.y : -s4.y, kFwd ? s4.z : -s4.z,
                         kFwd ? s4.w : -s4.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      y1[e] = x1[e] * cs[e] - x2[e] * sn[e];
      y2[e] = x2[e] * cs[e] + x1[e] * sn[e];
    }
    store4(dst + i, y1);
    store4(dst + half + i, y2);
  }
}

int grid_for(const RopeArgs& a) {
  const int64_t total = a.rows * (a.heads + 2 * a.kv_heads) * (a.hd / 8);
  const int64_t want = (total + kThreads - 1) / kThreads;
  const int64_t cap = static_cast<int64_t>(sm_count()) * 16;
  return static_cast<int>(want < cap ? (want > 0 ? want : 1) : cap);
}

}  // namespace

void rope_qkv_forward(const RopeArgs& a, const void* qkv, void* q, void* k, void* v,
                      void* stream) {
  if (a.rows == 0) return;
  rope_kernel<true><<<grid_for(a), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      a, static_cast<const bf16*>(qkv), nullptr, nullptr, nullptr, static_cast<bf16*>(q),
      static_cast<bf16*>(k), static_cast<bf16*>(v), nullptr);
  check_launch("rope forward");
}

void rope_qkv_backward(const RopeArgs& a, const void* dq, const void* dk, const void* dv,
                       void* dqkv, void* stream) {
  if (a.rows == 0) return;
  rope_kernel<false><<<grid_for(a), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      a, nullptr, static_cast<const bf16*>(dq), static_cast<const bf16*>(dk),
      static_cast<const bf16*>(dv), nullptr, nullptr, nullptr, static_cast<bf16*>(dqkv));
  check_launch("rope backward");
}

}  // namespace scalelab::kernels::cuda
