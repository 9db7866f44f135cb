// Launch helpers shared by every CUDA op in kernels/ (defined in launch.cu).
#pragma once

namespace scalelab::kernels::cuda {

// Throws c10::Error naming WHAT when the last launch failed.
void check_launch(const char* what);
// Lets FN use BYTES of dynamic shared memory (above the 48 KB default).
void set_smem(const void* fn, int bytes);
// Multiprocessors of the current device (cached per device).
int sm_count();

}  // namespace scalelab::kernels::cuda
