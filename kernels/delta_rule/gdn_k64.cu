// Gated delta rule kernels for head dim K = 64 (one variant per file keeps
// each nvcc job small; see gdn_kernels.cuh).
#include "kernels/delta_rule/gdn_kernels.cuh"

namespace scalelab::kernels::cuda {
SCALELAB_GDN_INSTANTIATE(64)
}  // namespace scalelab::kernels::cuda
