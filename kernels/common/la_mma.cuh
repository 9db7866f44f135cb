// Warp-level tensor-core primitives with a documented register layout
// (PTX ISA, "Matrix fragments for mma.m16n8k16"), for kernels that keep
// accumulators in registers across loop iterations and scale them per row
// (which WMMA's opaque fragments do not allow). With g = lane / 4 and
// c = lane % 4:
//   A (16 x 16, row-major) a[0] = A[g][2c..2c+1]    a[1] = A[g+8][2c..2c+1]
//                          a[2] = A[g][2c+8..+9]    a[3] = A[g+8][2c+8..+9]
//   B (16 x 8, "col")      b[0] = B[2c..2c+1][g]    b[1] = B[2c+8..+9][g]
//   C (16 x 8, fp32)       d[0..1] = C[g][2c..2c+1] d[2..3] = C[g+8][2c..2c+1]
// Each 32-bit register holds two bf16, the lower column in the low half.
#pragma once

#include <cuda_bf16.h>

namespace scalelab::kernels::cuda {

// Four 8 x 8 bf16 matrices, transposed on the way: lane L names row L % 8 of
// matrix L / 8 (16-byte aligned); r[m] is matrix m, thread (g, c) holding
// M[2c][g] and M[2c+1][g].
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* row_ptr) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row_ptr));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// d += a b on bf16 operands, fp32 accumulate.
__device__ __forceinline__ void mma_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0,
                                          unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float2 unpack_bf16x2(unsigned x) {
  __nv_bfloat162 h;
  *reinterpret_cast<unsigned*>(&h) = x;
  return __bfloat1622float2(h);
}

__device__ __forceinline__ unsigned pack_bf16x2(__nv_bfloat162 h) {
  return *reinterpret_cast<unsigned*>(&h);
}

// x = hi + lo with hi = bf16(x) and lo = bf16(x - hi): two products on
// tensor cores give ~16 significant bits instead of bf16's 8.
__device__ __forceinline__ void split_bf16x2(float x0, float x1, unsigned& hi, unsigned& lo) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(x0, x1);
  const float2 hf = __bfloat1622float2(h);
  hi = pack_bf16x2(h);
  lo = pack_bf16x2(__floats2bfloat162_rn(x0 - hf.x, x1 - hf.y));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait_group() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

}  // namespace scalelab::kernels::cuda
