#include "data/format.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "shards are little-endian");

namespace scalelab::data {
namespace {

std::string os_error(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

// Opens PATH read-only; throws DataError naming it.
int open_read(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError(os_error("cannot open", path));
  return fd;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly N bytes at OFFSET; false at a short read.
bool pread_all(int fd, void* buf, int64_t n, int64_t offset) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, static_cast<size_t>(n), offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= r;
    offset += r;
  }
  return true;
}

void write_all(int fd, const void* buf, size_t n, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw DataError(os_error("write failed", path));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

constexpr int64_t kChunk = 4 << 20;

}  // namespace

ShardHeader read_shard_header(const std::string& path) {
  Fd f{open_read(path)};
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw DataError(os_error("cannot stat", path));
  int32_t h[kHeaderInts];
  if (st.st_size < kHeaderBytes || !pread_all(f.fd, h, kHeaderBytes, 0))
    throw DataError(path + ": truncated: " + std::to_string(st.st_size) +
                    " bytes, shorter than the 1024-byte shard header");
  ShardHeader out;
  if (h[0] == kShardMagic && (h[1] == 1 || h[1] == 2)) {
    out.width = h[1] == 1 ? 2 : 4;
  } else if (h[0] == kLlama3Magic && h[1] == 7) {
    out.width = 4;
  } else if (h[0] == kShardMagic || h[0] == kLlama3Magic) {
    throw DataError(path + ": unknown shard version " + std::to_string(h[1]) + " for magic " +
                    std::to_string(h[0]) + " (known: 20240520 v1 uint16, v2 uint32; 20240801 v7)");
  } else {
    throw DataError(path + ": wrong magic " + std::to_string(h[0]) +
                    "; not an llm.c token shard (magic 20240520)");
  }
  if (h[2] < 0) throw DataError(path + ": negative token count " + std::to_string(h[2]));
  out.tokens = h[2];
  const int64_t want = kHeaderBytes + out.tokens * out.width;
  if (st.st_size != want)
    throw DataError(path + ": " + (st.st_size < want ? "truncated" : "has trailing bytes") +
                    ": the header says " + std::to_string(out.tokens) + " tokens (" +
                    std::to_string(want) + " bytes), the file has " +
                    std::to_string(st.st_size) + " bytes");
  return out;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  Fd f{open_read(path)};
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw DataError(os_error("cannot stat", path));
  size_ = st.st_size;
  if (size_ > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(size_), PROT_READ, MAP_PRIVATE, f.fd, 0);
    if (p == MAP_FAILED) throw DataError(os_error("cannot map", path));
    data_ = static_cast<const uint8_t*>(p);
  }
  fd_ = f.fd;
  f.fd = -1;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
  if (fd_ >= 0) ::close(fd_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : path_(std::move(o.path_)), data_(o.data_), size_(o.size_), fd_(o.fd_) {
  o.data_ = nullptr;
  o.size_ = 0;
  o.fd_ = -1;
}

void MappedFile::read(void* dst, int64_t n, int64_t offset) const {
  if (!pread_all(fd_, dst, n, offset))
    throw DataError(fmt::format("{}: short read of {} bytes at offset {} (truncated since it was checked?)",
                                path_, n, offset));
}

int64_t scan_max_token(const std::string& path, int64_t offset, int64_t count, int width) {
  Fd f{open_read(path)};
  std::vector<uint8_t> buf(static_cast<size_t>(kChunk));
  int64_t best = -1;
  for (int64_t done = 0; done < count;) {
    const int64_t n = std::min<int64_t>(count - done, kChunk / width);
    if (!pread_all(f.fd, buf.data(), n * width, offset + done * width))
      throw DataError(path + ": truncated while reading token " + std::to_string(done));
    if (width == 1) {
      best = std::max<int64_t>(best, *std::max_element(buf.data(), buf.data() + n));
    } else if (width == 2) {
      const auto* t = reinterpret_cast<const uint16_t*>(buf.data());
      best = std::max<int64_t>(best, *std::max_element(t, t + n));
    } else {
      const auto* t = reinterpret_cast<const uint32_t*>(buf.data());
      best = std::max<int64_t>(best, *std::max_element(t, t + n));
    }
    done += n;
  }
  return best;
}

ShardWriter::ShardWriter(std::string path, int width)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), width_(width) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw DataError(os_error("cannot create", tmp_));
  const std::vector<uint8_t> zero(kHeaderBytes, 0);  // the real header comes at close()
  write_all(fd_, zero.data(), zero.size(), tmp_);
  hash_ = XXH3_createState();
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(hash_));
  buf_.reserve(static_cast<size_t>(kChunk));
}

ShardWriter::~ShardWriter() {
  if (fd_ >= 0) {  // not closed: an error unwound past us; leave nothing behind
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
  if (hash_) XXH3_freeState(static_cast<XXH3_state_t*>(hash_));
}

void ShardWriter::append(const uint32_t* tokens, int64_t n) {
  if (count_ + n > kMaxShardTokens)
    throw DataError(path_ + ": more than 2^31-1 tokens in one shard");
  count_ += n;
  uint32_t top = 0;
  while (n > 0) {
    const int64_t room = (kChunk - static_cast<int64_t>(buf_.size())) / width_;
    const int64_t k = std::min(n, room);
    buf_.resize(buf_.size() + static_cast<size_t>(k * width_));
    uint8_t* out = buf_.data() + buf_.size() - k * width_;
    for (int64_t i = 0; i < k; ++i) {
      top = std::max(top, tokens[i]);
      if (width_ == 2) {
        const auto t = static_cast<uint16_t>(tokens[i]);
        std::memcpy(out + 2 * i, &t, 2);
      } else {
        std::memcpy(out + 4 * i, tokens + i, 4);
      }
    }
    tokens += k;
    n -= k;
    if (buf_.size() >= static_cast<size_t>(kChunk)) flush();
  }
  if (width_ == 2 && top > 0xFFFF)
    throw DataError(path_ + ": token " + std::to_string(top) + " does not fit a uint16 shard");
  max_ = std::max<int64_t>(max_, top);
}

void ShardWriter::flush() {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(hash_), buf_.data(), buf_.size());
  write_all(fd_, buf_.data(), buf_.size(), tmp_);
  buf_.clear();
}

ShardStats ShardWriter::close() {
  flush();
  int32_t h[kHeaderInts] = {};
  h[0] = kShardMagic;
  h[1] = width_ == 2 ? 1 : 2;
  h[2] = static_cast<int32_t>(count_);
  if (::pwrite(fd_, h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) || ::fsync(fd_) != 0)
    throw DataError(os_error("write failed", tmp_));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw DataError(os_error("cannot rename", tmp_));
  return {count_, max_, XXH3_64bits_digest(static_cast<XXH3_state_t*>(hash_))};
}

uint64_t shard_checksum(const std::string& path, const ShardHeader& h) {
  Fd f{open_read(path)};
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::vector<uint8_t> buf(static_cast<size_t>(kChunk));
  const int64_t total = h.tokens * h.width;
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min<int64_t>(total - done, kChunk);
    if (!pread_all(f.fd, buf.data(), n, kHeaderBytes + done)) {
      XXH3_freeState(st);
      throw DataError(path + ": truncated at byte " + std::to_string(kHeaderBytes + done));
    }
    XXH3_64bits_update(st, buf.data(), static_cast<size_t>(n));
    done += n;
  }
  const uint64_t d = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return d;
}

}  // namespace scalelab::data
