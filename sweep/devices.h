// The GPUs of this machine, as nvidia-smi lists them (the scheduler loads no
// CUDA library), and the check that every GPU a user names exists.
#pragma once

#include <string>
#include <vector>

namespace scalelab::sweep {

struct GpuInfo {
  std::string id;      // index, as CUDA_VISIBLE_DEVICES takes it
  double memory = 0;   // bytes
  std::string name;
};

// Empty when nvidia-smi is missing or lists nothing.
std::vector<GpuInfo> visible_gpus();

// The GPUs of IDS in that order; throws std::invalid_argument naming a GPU that
// does not exist (and what does) or a repeated one.
std::vector<GpuInfo> check_gpus(const std::vector<std::string>& ids,
                                const std::vector<GpuInfo>& visible);

}  // namespace scalelab::sweep
