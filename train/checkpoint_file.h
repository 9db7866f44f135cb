// The file layer of a checkpoint, without LibTorch: a checksum trailer that
// proves the bytes are the ones written, and the two-file rotation that keeps
// the previous good checkpoint.
//
// A checkpoint file is the serialized archive followed by a 32-byte trailer:
//   "SLCKPT01" | payload bytes (u64 LE) | XXH3-64 of the payload (u64 LE) | "SLCKEND\0"
// A truncated file loses its trailer, a flipped bit changes the hash, so
// neither reaches the archive reader (a crash in a deserializer on a corrupt
// file is a crash of the run; a checksum failure is a fallback).
//
// Rotation: NAME.pt is the newest, NAME.prev.pt the one before. A new one is
// written to NAME.pt.tmp and fsync'ed; then NAME.pt becomes NAME.prev.pt and
// the temp file becomes NAME.pt (renames, directory fsync'ed). A crash between
// the renames leaves only NAME.prev.pt, which loading falls back to.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace scalelab::train {

inline constexpr size_t kCheckpointTrailerBytes = 32;

// A checkpoint that cannot be used: missing trailer, wrong size, bad checksum.
struct CheckpointCorrupt : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The trailer for PAYLOAD_BYTES of payload with hash HASH.
std::string checkpoint_trailer(uint64_t payload_bytes, uint64_t hash);
// XXH3-64 of DATA, the hash of the trailer.
uint64_t checkpoint_hash(std::string_view data);

// Checks a whole checkpoint file held in memory; returns the payload (a view
// into BYTES). Throws CheckpointCorrupt saying what is wrong (never reads past
// BYTES, whatever they hold).
std::string_view checkpoint_payload(std::string_view bytes);

// Appends the trailer to the file PATH (the archive just written there),
// hashing it as it streams, and fsyncs it. Throws std::runtime_error naming
// PATH (a full disk, an I/O error).
void seal_checkpoint_file(const std::string& path);

// Reads PATH whole and checks it: the payload bytes, or CheckpointCorrupt.
// nullopt when PATH does not exist.
std::optional<std::string> read_checkpoint_file(const std::string& path);

// NAME.prev.pt for NAME.pt (the previous good checkpoint).
std::string previous_checkpoint_path(const std::string& path);

// Moves PATH.tmp (sealed) into place, keeping the current PATH as the previous
// one; fsyncs the directory.
void rotate_checkpoint(const std::string& path);

}  // namespace scalelab::train
