#include "sweep/devices.h"

#include <cstdio>
#include <set>
#include <sstream>
#include <stdexcept>

namespace scalelab::sweep {

std::vector<GpuInfo> visible_gpus() {
  std::vector<GpuInfo> out;
  FILE* p = ::popen("nvidia-smi --query-gpu=index,memory.total,name --format=csv,noheader,nounits "
                    "2>/dev/null",
                    "r");
  if (!p) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) {
    std::istringstream line(buf);
    GpuInfo g;
    std::string mib, name;
    if (!std::getline(line, g.id, ',') || !std::getline(line, mib, ',')) continue;
    std::getline(line, name);
    try {
      g.memory = std::stod(mib) * 1024 * 1024;
    } catch (const std::exception&) {
      continue;
    }
    const size_t b = name.find_first_not_of(' '), e = name.find_last_not_of(" \r\n");
    if (b != std::string::npos) g.name = name.substr(b, e - b + 1);
    out.push_back(g);
  }
  ::pclose(p);
  return out;
}

std::vector<GpuInfo> check_gpus(const std::vector<std::string>& ids,
                                const std::vector<GpuInfo>& visible) {
  std::vector<GpuInfo> out;
  std::set<std::string> seen;
  std::string have;
  for (const GpuInfo& g : visible) have += (have.empty() ? "" : ",") + g.id;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) throw std::invalid_argument("--gpus: GPU " + id + " is named twice");
    const GpuInfo* found = nullptr;
    for (const GpuInfo& g : visible)
      if (g.id == id) found = &g;
    if (!found)
      throw std::invalid_argument(
          "--gpus: there is no GPU " + id + " on this machine (" +
          (visible.empty() ? std::string("nvidia-smi lists no NVIDIA GPU")
                           : "it has GPUs " + have) +
          ")");
    out.push_back(*found);
  }
  return out;
}

}  // namespace scalelab::sweep
