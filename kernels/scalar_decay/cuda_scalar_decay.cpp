// CUDA dispatch of scalar-decay linear attention: the Hopper kernels
// (kernels/common/la_kernels.cuh) through their autograd Function, or the
// LibTorch chunked form on the GPU for what the kernels do not cover (head
// dims outside K in {64,128}, V % 64 != 0 or V > 256, and fp64, whose callers
// want fp64 accuracy, not bf16).
#include "kernels/scalar_decay/cuda.h"

#include "kernels/common/cuda.h"
#include "kernels/common/linear_attn_impl.h"
#include "kernels/scalar_decay/chunk.h"

namespace scalelab::kernels {

bool cuda_scalar_decay_supported(int64_t head_k, int64_t head_v) {
  return cuda::head_dims_supported(head_k, head_v);
}

LinearAttnResult cuda_scalar_decay_chunked(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v, const torch::Tensor& g,
                                           const torch::Tensor& initial_state,
                                           const LinearAttnOptions& opt) {
  detail::check_inputs("cuda_scalar_decay_chunked", q, k, v, g, initial_state, false, opt);
  TORCH_CHECK(q.is_cuda(), "cuda_scalar_decay_chunked: q must be a CUDA tensor, got ", q.device());
  if (cuda_scalar_decay_supported(q.size(3), v.size(3)) && q.scalar_type() != torch::kFloat64)
    return cuda::chunked(false, q, k, v, g, initial_state, opt);
  const double scale = detail::resolve_scale(opt.scale, q.size(3));
  const int64_t chunk = opt.chunk_size;
  return detail::run_sequences(
      q, k, v, g, initial_state, opt,
      [&](const auto& q1, const auto& k1, const auto& v1, const auto& g1, const auto& h0) {
        return scalar_decay_chunk_torch(q1, k1, v1, g1, h0, scale, chunk);
      });
}

}  // namespace scalelab::kernels
