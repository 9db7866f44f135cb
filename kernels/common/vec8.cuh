// Eight- and four-element vector loads and stores in fp32 registers, for the
// memory-bound fused ops (rms_norm, swiglu, rope, cross_entropy, causal_conv1d):
// eight elements are one 16-byte access for bf16, two for fp32. Callers
// guarantee 16-byte alignment.
#pragma once

#include <cuda_bf16.h>

namespace scalelab::kernels::cuda {

__device__ __forceinline__ void load8(const float* p, float v[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0];
  const float4 b = reinterpret_cast<const float4*>(p)[1];
  v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
  v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}

// Eight bf16 as loaded (one uint4) to fp32.
__device__ __forceinline__ void unpack8(const uint4& u, float v[8]) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(h[i]);
    v[2 * i] = f.x;
    v[2 * i + 1] = f.y;
  }
}

__device__ __forceinline__ void load8(const __nv_bfloat16* p, float v[8]) {
  unpack8(*reinterpret_cast<const uint4*>(p), v);
}

// Eight elements as loaded, kept in registers to be unpacked later.
template <class T>
struct Raw8;
template <>
struct Raw8<__nv_bfloat16> {
  uint4 u;
};
template <>
struct Raw8<float> {
  float4 a, b;
};

__device__ __forceinline__ Raw8<__nv_bfloat16> load_raw8(const __nv_bfloat16* p) {
  return {*reinterpret_cast<const uint4*>(p)};
}

__device__ __forceinline__ Raw8<float> load_raw8(const float* p) {
  return {reinterpret_cast<const float4*>(p)[0], reinterpret_cast<const float4*>(p)[1]};
}

__device__ __forceinline__ void unpack8(const Raw8<__nv_bfloat16>& r, float v[8]) {
  unpack8(r.u, v);
}

__device__ __forceinline__ void unpack8(const Raw8<float>& r, float v[8]) {
  v[0] = r.a.x; v[1] = r.a.y; v[2] = r.a.z; v[3] = r.a.w;
  v[4] = r.b.x; v[5] = r.b.y; v[6] = r.b.z; v[7] = r.b.w;
}

__device__ __forceinline__ void store8(float* p, const float v[8]) {
  reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}

__device__ __forceinline__ void store8(__nv_bfloat16* p, const float v[8]) {
  uint4 u;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
  *reinterpret_cast<uint4*>(p) = u;
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

}  // namespace scalelab::kernels::cuda

namespace scalelab::kernels::cuda {

// Four elements as one access (8 bytes for bf16, 16 for fp32), for kernels that
// want more threads (or more loads in flight) per byte than load8 gives.
// Callers guarantee 8-byte (bf16) or 16-byte (fp32) alignment.
template <class T>
struct Pack4;
template <>
struct Pack4<__nv_bfloat16> {
  using type = uint2;
};
template <>
struct Pack4<float> {
  using type = float4;
};

template <class T>
__device__ __forceinline__ typename Pack4<T>::type load_pack4(const T* p) {
  return *reinterpret_cast<const typename Pack4<T>::type*>(p);
}

__device__ __forceinline__ void unpack4(uint2 u, float v[4]) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
  const float2 a = __bfloat1622float2(h[0]), b = __bfloat1622float2(h[1]);
  v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
}

__device__ __forceinline__ void unpack4(float4 u, float v[4]) {
  v[0] = u.x; v[1] = u.y; v[2] = u.z; v[3] = u.w;
}

__device__ __forceinline__ void store4(float* p, const float v[4]) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}

__device__ __forceinline__ void store4(__nv_bfloat16* p, const float v[4]) {
  uint2 u;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&u);
  h[0] = __floats2bfloat162_rn(v[0], v[1]);
  h[1] = __floats2bfloat162_rn(v[2], v[3]);
  *reinterpret_cast<uint2*>(p) = u;
}

}  // namespace scalelab::kernels::cuda
