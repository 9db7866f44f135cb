// Checkpoint files: a checksum and the previous one kept. A truncated or
// bit-flipped newest checkpoint falls back to the previous one and says so;
// a full disk fails the write with a clear message and loses nothing earlier.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/common/temp_dir.h"
#include "train/checkpoint.h"
#include "train/checkpoint_file.h"

namespace scalelab::train {
namespace {

namespace fs = std::filesystem;

struct Tiny : torch::nn::Module {
  torch::Tensor w, b;
  Tiny() {
    w = register_parameter("w", torch::zeros({64, 32}));
    b = register_parameter("b", torch::zeros({32}));
  }
};

AdamWOptions adamw() {
  AdamWOptions o;
  o.lr = 1e-2;
  return o;
}

// Saves the state after STEP at PATH (weights = STEP, so a load says which).
void save_at(const std::string& path, int64_t step) {
  Tiny m;
  AdamW opt({m.w}, {m.b}, adamw());
  torch::NoGradGuard g;
  m.w.fill_(static_cast<double>(step));
  save_checkpoint(path, {"run", step, step * 100, 1.0 * step, 1, 2.5, 0.5}, m, opt);
}

struct Loaded {
  std::optional<CheckpointInfo> info;
  double w = -1;
};
Loaded load(const std::string& path, const std::string& run = "run") {
  Tiny m;
  AdamW opt({m.w}, {m.b}, adamw());
  Loaded l;
  l.info = load_checkpoint(path, run, m, opt);
  l.w = m.w[0][0].item<double>();
  return l;
}

void flip_bit(const std::string& path, uintmax_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x10));
}

TEST(Checkpoint, KeepsThePreviousOneAndLoadsTheNewest) {
  scalelab::testing::TempDir tmp("ckpt_keep");
  const std::string p = (tmp.path() / "checkpoint.pt").string();
  save_at(p, 1);
  save_at(p, 2);
  save_at(p, 3);
  EXPECT_TRUE(fs::exists(tmp.path() / "checkpoint.prev.pt"));
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  const Loaded l = load(p);
  ASSERT_TRUE(l.info);
  EXPECT_EQ(l.info->step, 3);
  EXPECT_EQ(l.info->tokens, 300);
  EXPECT_EQ(l.info->window_steps, 1);
  EXPECT_DOUBLE_EQ(l.info->window_loss_sum, 2.5);
  EXPECT_DOUBLE_EQ(l.w, 3.0);
  EXPECT_EQ(l.info->fallback_reason, "");
  EXPECT_EQ(l.info->loaded_from, p);
}

TEST(Checkpoint, TruncatedNewestFallsBackToThePreviousAndSaysSo) {
  scalelab::testing::TempDir tmp("ckpt_trunc");
  const std::string p = (tmp.path() / "checkpoint.pt").string();
  save_at(p, 1);
  save_at(p, 2);
  for (uintmax_t keep : {uintmax_t{0}, uintmax_t{10}, fs::file_size(p) / 2, fs::file_size(p) - 1}) {
    save_at(p, 1);  // previous: step 1 ...
    save_at(p, 2);  // ... newest: step 2, cut to KEEP bytes
    fs::resize_file(p, keep);
    const Loaded l = load(p);
    ASSERT_TRUE(l.info) << keep;
    EXPECT_EQ(l.info->step, 1) << keep;
    EXPECT_DOUBLE_EQ(l.w, 1.0) << keep;
    EXPECT_NE(l.info->fallback_reason.find("checkpoint '" + p + "' is unusable"), std::string::npos)
        << l.info->fallback_reason;
    EXPECT_NE(l.info->fallback_reason.find("resumed from the previous one"), std::string::npos);
  }
}

TEST(Checkpoint, FlippedBitAnywhereIsDetected) {
  scalelab::testing::TempDir tmp("ckpt_flip");
  const std::string p = (tmp.path() / "checkpoint.pt").string();
  save_at(p, 1);
  save_at(p, 2);
  const uintmax_t size = fs::file_size(p);
  for (uintmax_t at : {uintmax_t{0}, uintmax_t{100}, size / 3, size / 2, size - 40, size - 20, size - 1}) {
    save_at(p, 1);
    save_at(p, 2);
    flip_bit(p, at);
    const Loaded l = load(p);
    ASSERT_TRUE(l.info) << at;
    EXPECT_EQ(l.info->step, 1) << "a flipped bit at byte " << at << " of " << size << " was read";
    EXPECT_FALSE(l.info->fallback_reason.empty());
  }
}

TEST(Checkpoint, BothUnusableIsAnErrorNamingBoth) {
  scalelab::testing::TempDir tmp("ckpt_both");
  const std::string p = (tmp.path() / "checkpoint.pt").string();
  save_at(p, 1);
  save_at(p, 2);
  fs::resize_file(p, 100);
  fs::resize_file(tmp.path() / "checkpoint.prev.pt", 100);
  try {
    load(p);
    FAIL() << "loaded a truncated checkpoint";
  } catch (const std::runtime_error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find(p), std::string::npos) << w;
    EXPECT_NE(w.find("checkpoint.prev.pt"), std::string::npos) << w;
    EXPECT_NE(w.find("delete them to restart"), std::string::npos) << w;
  }
}

TEST(Checkpoint, MissingNewestAfterACrashMidRotationUsesThePrevious) {
  scalelab::testing::TempDir tmp("ckpt_rot");
  const std::string p = (tmp.path() / "checkpoint.pt").string();
  EXPECT_FALSE(load(p).info);  // never checkpointed: start from scratch
  save_at(p, 1);
  save_at(p, 2);
  fs::remove(p);  // killed between the two renames
  const Loaded l = load(p);
  ASSERT_TRUE(l.info);
  EXPECT_EQ(l.info->step, 1);
  EXPECT_NE(l.info->fallback_reason.find("is missing"), std::string::npos);
}

TEST(Checkpoint, AnotherRunsCheckpointIsRefusedNotFallenBackFrom) {
  scalelab::testing::TempDir tmp("ckpt_other");
  const std::string p = (tmp.path() / "checkpoint.pt").string();
  save_at(p, 1);
  save_at(p, 2);
  EXPECT_THROW(load(p, "another"), std::runtime_error);
}

// A small tmpfs that fills: the write fails naming the file and the disk, the
// previous checkpoint still loads, no temp file is left.
TEST(Checkpoint, FullDiskFailsTheWriteAndKeepsTheLastGoodOne) {
  scalelab::testing::TempDir tmp("ckpt_full");
  const fs::path mnt = tmp.path() / "small";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); the full-disk test needs root with CAP_SYS_ADMIN, as in CI";
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt.string()};
  const std::string p = (mnt / "checkpoint.pt").string();
  save_at(p, 1);  // ~9 KB
  {
    std::ofstream fill(mnt / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (fill.write(block.data(), block.size())) {
    }
  }
  try {
    save_at(p, 2);
    FAIL() << "a checkpoint was written to a full disk";
  } catch (const std::runtime_error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find(p + ".tmp"), std::string::npos) << w;
    EXPECT_NE(w.find("disk is full"), std::string::npos) << w;
    EXPECT_NE(w.find("the previous checkpoint is kept"), std::string::npos) << w;
  }
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  fs::remove(mnt / "filler");
  const Loaded l = load(p);
  ASSERT_TRUE(l.info);
  EXPECT_EQ(l.info->step, 1);
  EXPECT_EQ(l.info->fallback_reason, "");
}

}  // namespace
}  // namespace scalelab::train
