// Checkpoint files as loading meets them: any bytes are either a sealed
// payload or CheckpointCorrupt, never a read past the end; a sealed payload
// reads back exactly, and a flipped bit or a lost byte of it is detected.
#include <cstddef>
#include <cstdint>
#include <string>

#include "train/checkpoint_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelab::train;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    (void)checkpoint_payload(bytes);
  } catch (const CheckpointCorrupt&) {
  }
  const std::string sealed = bytes + checkpoint_trailer(bytes.size(), checkpoint_hash(bytes));
  if (checkpoint_payload(sealed) != bytes) __builtin_trap();
  std::string flipped = sealed;
  const size_t at = size ? data[0] % flipped.size() : 0;
  flipped[at] = static_cast<char>(flipped[at] ^ (1u << (size > 1 ? data[1] % 8 : 0)));
  bool caught = false;
  try {
    (void)checkpoint_payload(flipped);
  } catch (const CheckpointCorrupt&) {
    caught = true;
  }
  if (!caught) __builtin_trap();
  bool truncated_caught = false;
  try {
    (void)checkpoint_payload(std::string_view(sealed).substr(0, sealed.size() - 1));
  } catch (const CheckpointCorrupt&) {
    truncated_caught = true;
  }
  if (!truncated_caught) __builtin_trap();
  return 0;
}
