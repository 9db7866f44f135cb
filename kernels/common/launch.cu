#include "kernels/common/launch.cuh"

#include <c10/util/Exception.h>
#include <cuda_runtime.h>

namespace scalelab::kernels::cuda {

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  TORCH_CHECK(err == cudaSuccess, what, ": CUDA launch failed: ", cudaGetErrorString(err));
}

void set_smem(const void* fn, int bytes) {
  const cudaError_t err =
      cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  TORCH_CHECK(err == cudaSuccess, "CUDA kernel: cannot give a kernel ", bytes,
              " bytes of shared memory: ", cudaGetErrorString(err));
}

int sm_count() {
  constexpr int kMaxDevices = 64;
  static int cached[kMaxDevices] = {0};
  int dev = 0;
  TORCH_CHECK(cudaGetDevice(&dev) == cudaSuccess, "CUDA kernel: no current device");
  if (dev >= kMaxDevices) dev = kMaxDevices - 1;
  if (cached[dev] == 0) {
    int n = 0;
    TORCH_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess,
                "CUDA kernel: cannot read the multiprocessor count");
    cached[dev] = n;
  }
  return cached[dev];
}

}  // namespace scalelab::kernels::cuda
