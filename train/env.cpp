#include "train/env.h"

#include <torch/version.h>
#include <unistd.h>

#include "train/version.h"

#include <fstream>
#include <sstream>

#if SCALELAB_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace scalelab::train {

std::string code_version() { return SCALELAB_CODE_VERSION; }

double seconds_since_process_start() {
  // Field 22 of /proc/self/stat: start time in clock ticks after boot.
  std::ifstream stat("/proc/self/stat"), up("/proc/uptime");
  std::string line;
  double uptime = 0;
  if (!std::getline(stat, line) || !(up >> uptime)) return 0;
  std::istringstream rest(line.substr(line.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i) {
  }
  const double start = std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return uptime - start;
}

std::string device_name(const torch::Device& dev) {
#if SCALELAB_HAVE_CUDA
  if (dev.is_cuda()) return at::cuda::getDeviceProperties(dev.index() < 0 ? 0 : dev.index())->name;
#endif
  return dev.str();
}

std::optional<double> bf16_peak_flops(const torch::Device& dev) {
  if (!dev.is_cuda()) return std::nullopt;
  const std::string name = device_name(dev);
  // Dense (not 2:4 sparse) bf16 tensor-core peaks from the vendors' datasheets.
  const std::pair<const char*, double> known[] = {
      {"H200", 989.4e12}, {"H100", 989.4e12}, {"H800", 989.4e12}, {"GH200", 989.4e12},
      {"A100", 312e12},   {"A800", 312e12},   {"L40S", 362e12},  {"B200", 2250e12},
  };
  for (const auto& [key, peak] : known)
    if (name.find(key) != std::string::npos) return peak;
  return std::nullopt;
}

int64_t peak_memory_bytes(const torch::Device& dev) {
#if SCALELAB_HAVE_CUDA
  if (dev.is_cuda()) {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(dev.index() < 0 ? 0 : dev.index());
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
        .peak;
  }
#endif
  return 0;
}

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
  if (dev.is_cuda()) j["gpu"] = device_name(dev);
#endif
  return j;
}

}  // namespace scalelab::train
