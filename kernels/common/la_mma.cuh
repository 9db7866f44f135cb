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

// The same without the transpose: r[m] holds M[g][2c] and M[g][2c+1].
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* row_ptr) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row_ptr));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
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

// Fragment loads from shared memory (bf16, 16-byte aligned rows of stride
// ld elements). The A fragment covers rows m0..m0+15 and k0..k0+15; the B
// loads cover k0..k0+15 and two 8-column blocks, n0.. (b[0], b[1]) and
// n0+8.. (b[2], b[3]).
// A[m][k] = X[m][k] (X row-major).
__device__ __forceinline__ void load_a(unsigned (&a)[4], const __nv_bfloat16* x, int ld, int m0,
                                       int k0) {
  const int lane = threadIdx.x % 32, mi = lane / 8;
  ldmatrix_x4(a, x + (m0 + lane % 8 + 8 * (mi & 1)) * ld + k0 + 8 * (mi >> 1));
}
// A[m][k] = X[k][m] (X row-major: A is the transpose of what is stored).
__device__ __forceinline__ void load_a_t(unsigned (&a)[4], const __nv_bfloat16* x, int ld, int m0,
                                         int k0) {
  const int lane = threadIdx.x % 32, mi = lane / 8;
  ldmatrix_x4_trans(a, x + (k0 + lane % 8 + 8 * (mi >> 1)) * ld + m0 + 8 * (mi & 1));
}
// B[k][n] = Y[n][k] (Y row-major, e.g. keys for Q K^T).
__device__ __forceinline__ void load_b_nk(unsigned (&b)[4], const __nv_bfloat16* y, int ld, int k0,
                                          int n0) {
  const int lane = threadIdx.x % 32, mi = lane / 8;
  ldmatrix_x4(b, y + (n0 + lane % 8 + 8 * (mi >> 1)) * ld + k0 + 8 * (mi & 1));
}
// B[k][n] = Z[k][n] (Z row-major, e.g. values for A V).
__device__ __forceinline__ void load_b_kn(unsigned (&b)[4], const __nv_bfloat16* z, int ld, int k0,
                                          int n0) {
  const int lane = threadIdx.x % 32, mi = lane / 8;
  ldmatrix_x4_trans(b, z + (k0 + lane % 8 + 8 * (mi & 1)) * ld + n0 + 8 * (mi >> 1));
}

// acc[nb] is the C fragment of columns 8 nb..8 nb+7 of a warp's 16-row slab:
// element e sits at row g + 8 (e / 2), column 8 nb + 2 c + e % 2. Columns
// 16 kk..16 kk+15 of it, as the A fragment of a following product (the
// accumulator never leaves registers, as in flash attention).
template <int NB>
__device__ __forceinline__ void acc_to_a(unsigned (&a)[4], const float (&acc)[NB][4], int kk) {
  a[0] = pack_bf16x2(__floats2bfloat162_rn(acc[2 * kk][0], acc[2 * kk][1]));
  a[1] = pack_bf16x2(__floats2bfloat162_rn(acc[2 * kk][2], acc[2 * kk][3]));
  a[2] = pack_bf16x2(__floats2bfloat162_rn(acc[2 * kk + 1][0], acc[2 * kk + 1][1]));
  a[3] = pack_bf16x2(__floats2bfloat162_rn(acc[2 * kk + 1][2], acc[2 * kk + 1][3]));
}

// acc[n0 / 8], acc[n0 / 8 + 1] += a B(k0.., n0..) for the two B loads above.
template <int NB>
__device__ __forceinline__ void mma_pair(float (&acc)[NB][4], int nb, const unsigned (&a)[4],
                                         const unsigned (&b)[4]) {
  mma_16816(acc[nb], a, b[0], b[1]);
  mma_16816(acc[nb + 1], a, b[2], b[3]);
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait_group() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

}  // namespace scalelab::kernels::cuda
