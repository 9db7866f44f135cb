// Sheet text -> parse -> plan. Bad input must end in SheetErrors (the
// planner's `file:row:column: message` list, exit code 2), never a crash, a
// hang, another exception type or an unbounded allocation.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "sweep/planner.h"
#include "sweep/sheet.h"

namespace {
std::filesystem::path g_dir;
void remove_scratch() {
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
}
}  // namespace

// The planner checks each run's data: `builtin:kjv` (every sheet's default)
// is a small text here, tokenized once into a scratch cache, and relative
// paths in `data` cells resolve inside the scratch folder.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("scalelab_fuzz_sheet_" + std::to_string(::getpid()));
  fs::create_directories(dir / "cache");
  g_dir = dir;
  std::atexit(remove_scratch);
  std::ofstream text(dir / "corpus.txt");
  for (int i = 0; i < 2000; ++i) text << "In the beginning God created the heaven and the earth " << i << ".\n";
  text.close();
  ::setenv("SCALELAB_DATA", (dir / "corpus.txt").c_str(), 1);
  ::setenv("SCALELAB_CACHE", (dir / "cache").c_str(), 1);
  fs::current_path(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelab::sweep;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Sheet sheet = parse_sheet(text, "fuzz.csv", sniff_delimiter("fuzz.csv", text));
    PlanOptions opts;
    opts.sweep = "fuzz";
    const Plan plan = plan_sheet(sheet, opts);
    for (const PlannedRun& r : plan.runs)
      if (r.row.params <= 0 || r.row.tokens <= 0 || !(r.row.flops > 0)) __builtin_trap();
  } catch (const SheetErrors& e) {
    if (e.errors().empty()) __builtin_trap();  // an error list must say something
  }
  return 0;
}
