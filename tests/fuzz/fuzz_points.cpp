// Points files (`fit --points FILE`): bad ones end in PointsFileError naming
// row and column; every point read is finite and positive.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "analysis/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelab::analysis;
  // The reader takes a path; an in-memory file gives it one without disk I/O.
  static const int fd = ::memfd_create("points.csv", 0);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    __builtin_trap();
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    for (const RunPoint& p : read_points_csv(path))
      if (!(p.n > 0 && p.d > 0 && p.c > 0 && std::isfinite(p.c) && std::isfinite(p.loss) && p.loss > 0))
        __builtin_trap();
  } catch (const PointsFileError&) {
  }
  return 0;
}
