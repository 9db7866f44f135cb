// Gated delta rule kernels for head dim K = 128 (one variant per file keeps
// each nvcc job small; see gdn_kernels.cuh).
#include "kernels/delta_rule/gdn_kernels.cuh"

namespace scalelab::kernels::cuda {
SCALELAB_GDN_INSTANTIATE(128)
}  // namespace scalelab::kernels::cuda
