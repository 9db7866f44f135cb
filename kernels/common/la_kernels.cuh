// Templated chunked linear-attention kernels (both families) for Hopper:
// bf16 operands on tensor cores (mma.sync m16n8k16, fp32 accumulate), fp32
// gates and states. Included by one small .cu per (family, head dim K) only.
//
// Per chunk of C = 64 rows with chunk-local cumulative log decay b (b_t <= 0,
// decreasing), state S0 entering the chunk and bC = b at the last valid row:
//   A  = scale * (Q K^T ⊙ exp(b_t - b_j)) masked to j <= t     (intra)
//   O  = A V + (scale * Q ⊙ exp(b)) S0                         (intra + inter)
//   S1 = exp(bC) ⊙ S0 + (K ⊙ exp(bC - b))^T V                  (state passing)
// Scalar decay computes Q K^T on tensor cores and applies the decay mask in
// registers. Vector decay uses secondary chunking (16-row sub-chunks):
// off-diagonal sub-blocks fold the gate into q and k around a reference row
// between them (every factor <= 1, so no gate overflows) on tensor cores,
// diagonal sub-blocks use the exact per-pair factor in fp32.
//
// Kernels: chunk_cumsum (la_common.cu); state_scan (la_scan.cuh; one block
// per (sequence, head, K tile, V tile), sequential over chunks, forward or
// backward); the parallel tile kernels, one block per (chunk, head, K or V
// tile): la_tiles.cuh (scalar) and la_tiles_vec.cuh (vector).
// Forward = cumsum + scan + [vector prep] + output;
// backward = reverse scan + [vector kd] + dv + dq/dk/dg.
// This header holds the launchers; each .cu instantiates one (family, K).
#pragma once

#include "kernels/common/launch.cuh"
#include "kernels/common/la_scan.cuh"
#include "kernels/common/la_tiles.cuh"
#include "kernels/common/la_tiles_vec.cuh"

namespace scalelab::kernels::cuda {

// ---------------------------------------------------------------- launchers

template <int DK, bool kVec, bool kFwd>
void launch_scan(const LinearAttnParams& p, cudaStream_t st) {
  constexpr int BV = scan_bv<DK, kVec>();
  auto fn = state_scan_kernel<BV, kVec, kFwd>;
  const int smem = scan_smem_bytes<BV, kVec>();
  set_smem(reinterpret_cast<const void*>(fn), smem);
  fn<<<dim3(p.head_v / BV * (DK / kScanBK), p.heads, p.num_seqs), kScanThreads, smem, st>>>(p);
  check_launch(kFwd ? "linear-attention forward (state scan)"
                    : "linear-attention backward (state scan)");
}

template <typename Kernel>
void launch_tiles(Kernel fn, int smem, dim3 grid, cudaStream_t st, const LinearAttnParams& p,
                  const char* what) {
  set_smem(reinterpret_cast<const void*>(fn), smem);
  fn<<<grid, kTileThreads, smem, st>>>(p);
  check_launch(what);
}

template <int DK, bool kVec>
void launch_forward(const LinearAttnParams& p, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  launch_scan<DK, kVec, true>(p, st);
  if (p.num_chunks == 0) return;
  const dim3 vtiles(p.num_chunks * (p.head_v / 64), p.heads);
  if constexpr (kVec) {
    launch_tiles(vector_prep_kernel<DK, true>, sizeof(VecPrepTiles<DK>),
                 dim3(p.num_chunks, p.heads), st, p, "linear-attention forward (vector prep)");
    launch_tiles(vector_gemm_kernel<DK, false>, sizeof(VecGemmTiles<DK>), vtiles, st, p,
                 "linear-attention forward (chunks)");
  } else {
    launch_tiles(scalar_output_kernel<DK>, sizeof(QkTiles<DK>), vtiles, st, p,
                 "linear-attention forward (chunks)");
  }
}

template <int DK, bool kVec>
void launch_backward_state(const LinearAttnParams& p, void* stream) {
  launch_scan<DK, kVec, false>(p, static_cast<cudaStream_t>(stream));
}

template <int DK, bool kVec>
void launch_backward_chunks(const LinearAttnParams& p, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  const dim3 vtiles(p.num_chunks * (p.head_v / 64), p.heads);
  const dim3 ktiles(p.num_chunks * (DK / 64), p.heads);
  if constexpr (kVec) {
    launch_tiles(vector_prep_kernel<DK, false>, sizeof(VecPrepTiles<DK>),
                 dim3(p.num_chunks, p.heads), st, p, "linear-attention backward (folded keys)");
    launch_tiles(vector_gemm_kernel<DK, true>, sizeof(VecGemmTiles<DK>), vtiles, st, p,
                 "linear-attention backward (dv)");
    launch_tiles(vector_dqk_kernel<DK>, sizeof(VecDqkTiles), ktiles, st, p,
                 "linear-attention backward (dq, dk, dg)");
  } else {
    launch_tiles(scalar_dv_kernel<DK>, sizeof(QkTiles<DK>), vtiles, st, p,
                 "linear-attention backward (dv)");
    launch_tiles(scalar_dqk_kernel<DK>, sizeof(DqkTiles), ktiles, st, p,
                 "linear-attention backward (dq, dk, dg)");
  }
}

#define SCALELAB_LA_INSTANTIATE(DK, VEC)                                             \
  template void launch_forward<DK, VEC>(const LinearAttnParams&, void*);            \
  template void launch_backward_state<DK, VEC>(const LinearAttnParams&, void*);     \
  template void launch_backward_chunks<DK, VEC>(const LinearAttnParams&, void*);

}  // namespace scalelab::kernels::cuda
