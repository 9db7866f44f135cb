// Templated chunked linear-attention kernels (both families) for Hopper:
// bf16 operands on tensor cores (WMMA 16x16x16, fp32 accumulate), fp32 gates
// and states. Included by one small .cu per (family, head dim K) only.
//
// Per chunk of C = 64 rows with chunk-local cumulative log decay b (b_t <= 0,
// decreasing), state S0 entering the chunk and bC = b at the last valid row:
//   A  = scale * (Q K^T ⊙ exp(b_t - b_j)) masked to j <= t     (intra)
//   O  = A V + (scale * Q ⊙ exp(b)) S0                         (intra + inter)
//   S1 = exp(bC) ⊙ S0 + (K ⊙ exp(bC - b))^T V                  (state passing)
// Scalar decay computes Q K^T on tensor cores and applies the decay mask
// afterwards. Vector decay uses secondary chunking (16-row sub-chunks):
// off-diagonal sub-blocks fold the gate into q and k around a reference row
// between them (every factor <= 1, so no gate overflows) on tensor cores,
// diagonal sub-blocks use the exact per-pair factor in fp32. Inter-chunk terms
// fold the gate into Q and K (factors <= 1) and run on tensor cores.
//
// Kernels: state_scan (la_scan.cuh; one block per (sequence, head, V tile),
// sequential over chunks, forward or backward), output_chunks and
// backward_chunks (la_chunks.cuh; one block per (chunk, head), parallel).
// Forward = gate cumsum + scan + output; backward = reverse scan + chunks.
// This header holds the launchers; each .cu instantiates one (family, K).
#pragma once

#include "kernels/common/la_chunks.cuh"
#include "kernels/common/la_scan.cuh"

namespace scalelab::kernels::cuda {

// ---------------------------------------------------------------- launchers

void check_launch(const char* what);
void set_smem(const void* fn, int bytes);

template <int DK, bool kVec, bool kFwd>
void launch_scan(const LinearAttnParams& p, cudaStream_t st) {
  constexpr int BV = scan_bv<DK>();
  auto fn = state_scan_kernel<BV, kVec, kFwd>;
  const int smem = scan_smem_bytes<BV, kVec>();
  set_smem(reinterpret_cast<const void*>(fn), smem);
  fn<<<dim3(p.head_v / BV * (DK / kScanBK), p.heads, p.num_seqs), kScanThreads, smem, st>>>(p);
  check_launch(kFwd ? "linear-attention forward (state scan)"
                    : "linear-attention backward (state scan)");
}

template <int DK, bool kVec>
void launch_forward(const LinearAttnParams& p, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  launch_scan<DK, kVec, true>(p, st);
  if (p.num_chunks == 0) return;
  constexpr int BV = 64;
  auto fn = output_chunks_kernel<DK, BV, kVec>;
  const int smem = sizeof(OutSmem<DK, BV, kVec>);
  set_smem(reinterpret_cast<const void*>(fn), smem);
  fn<<<dim3(p.num_chunks, p.heads), kThreads, smem, st>>>(p);
  check_launch("linear-attention forward (chunks)");
}

template <int DK, bool kVec>
void launch_backward_state(const LinearAttnParams& p, void* stream) {
  launch_scan<DK, kVec, false>(p, static_cast<cudaStream_t>(stream));
}

template <int DK, bool kVec>
void launch_backward_chunks(const LinearAttnParams& p, void* stream) {
  constexpr int BV = DK == 128 ? 32 : 64;  // fits the split states in 227 KB
  auto fn = backward_chunks_kernel<DK, BV, kVec>;
  const int smem = sizeof(BwdChunkSmem<DK, BV, kVec>);
  set_smem(reinterpret_cast<const void*>(fn), smem);
  fn<<<dim3(p.num_chunks, p.heads), kThreads, smem, static_cast<cudaStream_t>(stream)>>>(p);
  check_launch("linear-attention backward (chunks)");
}

#define SCALELAB_LA_INSTANTIATE(DK, VEC)                                             \
  template void launch_forward<DK, VEC>(const LinearAttnParams&, void*);            \
  template void launch_backward_state<DK, VEC>(const LinearAttnParams&, void*);     \
  template void launch_backward_chunks<DK, VEC>(const LinearAttnParams&, void*);

}  // namespace scalelab::kernels::cuda
