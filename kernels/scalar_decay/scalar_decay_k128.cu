// scalar decay kernels for head dim K = 128 (one variant per file keeps each
// nvcc job small; see kernels/common/la_kernels.cuh).
#include "kernels/common/la_kernels.cuh"

namespace scalelab::kernels::cuda {
SCALELAB_LA_INSTANTIATE(128, false)
}  // namespace scalelab::kernels::cuda
