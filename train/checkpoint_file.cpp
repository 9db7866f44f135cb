#include "train/checkpoint_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace scalelab::train {
namespace {

constexpr char kHead[8] = {'S', 'L', 'C', 'K', 'P', 'T', '0', '1'};
constexpr char kTail[8] = {'S', 'L', 'C', 'K', 'E', 'N', 'D', '\0'};

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string sys_error(const std::string& what, const std::string& path) {
  return "checkpoint: cannot " + what + " '" + path + "': " + std::strerror(errno);
}

void fsync_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

uint64_t checkpoint_hash(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

std::string checkpoint_trailer(uint64_t payload_bytes, uint64_t hash) {
  std::string t(kHead, sizeof kHead);
  put_u64(t, payload_bytes);
  put_u64(t, hash);
  t.append(kTail, sizeof kTail);
  return t;
}

std::string_view checkpoint_payload(std::string_view bytes) {
  if (bytes.size() < kCheckpointTrailerBytes)
    throw CheckpointCorrupt("it is " + std::to_string(bytes.size()) +
                            " bytes, shorter than its trailer (truncated?)");
  const char* t = bytes.data() + bytes.size() - kCheckpointTrailerBytes;
  if (std::memcmp(t, kHead, 8) != 0 || std::memcmp(t + 24, kTail, 8) != 0)
    throw CheckpointCorrupt("it has no checksum trailer (truncated, or not a scalelab checkpoint)");
  const uint64_t n = get_u64(t + 8), want = get_u64(t + 16);
  if (n != bytes.size() - kCheckpointTrailerBytes)
    throw CheckpointCorrupt("its trailer says " + std::to_string(n) + " bytes of payload, it holds " +
                            std::to_string(bytes.size() - kCheckpointTrailerBytes));
  const std::string_view payload = bytes.substr(0, n);
  if (checkpoint_hash(payload) != want) throw CheckpointCorrupt("its checksum does not match (corrupted bytes)");
  return payload;
}

void seal_checkpoint_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) throw std::runtime_error(sys_error("open", path));
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::string buf(1 << 20, '\0');
  uint64_t total = 0;
  bool ok = true;
  std::string err;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false, err = sys_error("read", path);
      break;
    }
    if (n == 0) break;
    XXH3_64bits_update(st, buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  if (ok) {
    const std::string t = checkpoint_trailer(total, h);
    size_t done = 0;
    while (done < t.size()) {
      const ssize_t n = ::write(fd, t.data() + done, t.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false, err = sys_error("write", path);
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  if (ok && ::fsync(fd) != 0) ok = false, err = sys_error("fsync", path);
  if (::close(fd) != 0 && ok) ok = false, err = sys_error("close", path);
  if (!ok) throw std::runtime_error(err);
}

std::optional<std::string> read_checkpoint_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw CheckpointCorrupt(sys_error("open", path));
  }
  struct stat sb {};
  std::string bytes;
  if (::fstat(fd, &sb) == 0 && sb.st_size > 0) bytes.reserve(static_cast<size_t>(sb.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string e = sys_error("read", path);
      ::close(fd);
      throw CheckpointCorrupt(e);
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t n = checkpoint_payload(bytes).size();
  bytes.resize(n);
  return bytes;
}

std::string previous_checkpoint_path(const std::string& path) {
  const std::string ext = ".pt";
  if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
    return path.substr(0, path.size() - ext.size()) + ".prev.pt";
  return path + ".prev";
}

void rotate_checkpoint(const std::string& path) {
  const std::string tmp = path + ".tmp", prev = previous_checkpoint_path(path);
  if (::rename(path.c_str(), prev.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error(sys_error("rename", path));
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(sys_error("rename", tmp));
  fsync_dir(path);
}

}  // namespace scalelab::train
