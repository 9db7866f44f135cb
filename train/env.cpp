#include "train/env.h"

#include <torch/version.h>
#include <unistd.h>

#include "train/version.h"

#if SCALELAB_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace scalelab::train {

std::string code_version() { return SCALELAB_CODE_VERSION; }

nlohmann::json environment_json(const torch::Device& dev, const spec::RunSpec& s) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json j = {
      {"code_version", code_version()},
      {"torch", TORCH_VERSION},
      {"device", dev.str()},
      {"host", host},
      {"threads", at::get_num_threads()},
      {"seed", s.seed},
  };
#if SCALELAB_HAVE_CUDA
  if (dev.is_cuda()) j["gpu"] = at::cuda::getDeviceProperties(dev.index() < 0 ? 0 : dev.index())->name;
#endif
  return j;
}

}  // namespace scalelab::train
