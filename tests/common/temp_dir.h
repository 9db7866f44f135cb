// A temporary directory, removed with everything in it at scope exit.
//
// Removal uses nftw, not std::filesystem::remove_all: the PyPI libtorch.so
// exports its own copy of remove_all (it jumps to null), and in torch-linked
// binaries the dynamic linker may bind to that copy (seen on the GPU machine).
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace scalelab::testing {

inline int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path);
}

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/scalelab_" + tag + "_XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temp dir from " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() { ::nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace scalelab::testing
