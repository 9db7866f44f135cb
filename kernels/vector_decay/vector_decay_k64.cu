// vector decay kernels for head dim K = 64 (one variant per file keeps each
// nvcc job small; see kernels/common/la_kernels.cuh).
#include "kernels/common/la_kernels.cuh"

namespace scalelab::kernels::cuda {
SCALELAB_LA_INSTANTIATE(64, true)
}  // namespace scalelab::kernels::cuda
