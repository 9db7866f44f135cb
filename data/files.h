// Small file-system helpers shared by the data code.
//
// Nothing here calls std::filesystem::remove_all: this library is linked into
// torch binaries, where the PyPI libtorch.so's copy of it is broken
// (cmake/ScalelabDeps.cmake).
#pragma once

#include <cstdint>
#include <string>

namespace scalelab::data {

// Writes TEXT to PATH.tmp, fsyncs and renames it to PATH.
void write_file_atomic(const std::string& path, const std::string& text);
// Removes PATH and everything under it (nftw); silent when it is missing.
void remove_tree(const std::string& path);
// XXH3-128 of the file's content, as 32 hex digits. Throws DataError naming PATH.
std::string file_hash(const std::string& path);
// $SCALELAB_CACHE, else ~/.cache/scalelab.
std::string cache_root();

}  // namespace scalelab::data
