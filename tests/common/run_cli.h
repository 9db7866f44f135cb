// Runs the real `scalelab` binary (SCALELAB_BINARY) as a user would.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace scalelab::testing {

struct CliResult {
  int rc = -1;
  std::string out;  // stdout, with stderr merged unless it was sent elsewhere
};

// `scalelab ARGS` in DIR. STDERR is a shell redirection target for stderr
// ("&1": merged into out).
inline CliResult run_cli(const std::filesystem::path& dir, const std::string& args,
                         const std::string& stderr_to = "&1") {
  const std::string cmd =
      "cd '" + dir.string() + "' && '" SCALELAB_BINARY "' " + args + " 2>" + stderr_to;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace scalelab::testing
