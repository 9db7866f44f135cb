#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "train/data.h"

namespace fs = std::filesystem;
using namespace scalelab::train;

namespace {
fs::path temp_file(const std::string& name, const std::string& content) {
  fs::path p = fs::temp_directory_path() / ("scalelab_data_" + std::to_string(::getpid()) + name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}
std::string corpus(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += "line " + std::to_string(i) + " of the corpus\n";
  return s.substr(0, n);
}
}  // namespace

TEST(Data, BatchesAreAFunctionOfSeedAndStep) {
  auto p = temp_file("a.txt", corpus(300000));
  auto d = TokenData::load(p.string(), 256, 32);
  auto a = d.batch(Split::Train, 4, 7, 10), b = d.batch(Split::Train, 4, 7, 10);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{4, 33}));
  EXPECT_FALSE(torch::equal(a, d.batch(Split::Train, 4, 7, 11)));
  EXPECT_FALSE(torch::equal(a, d.batch(Split::Train, 4, 8, 10)));
  fs::remove(p);
}

TEST(Data, HoldsOutEveryTwentiethBlock) {
  auto p = temp_file("b.txt", corpus(64 * 1024 * 40));
  auto d = TokenData::load(p.string(), 256, 32);
  EXPECT_EQ(d.validation_tokens(), 2 * 64 * 1024);
  EXPECT_EQ(d.train_tokens() + d.validation_tokens(), 64 * 1024 * 40);
  // Validation windows are fixed and contiguous.
  auto w = d.validation_windows(0, 3);
  EXPECT_TRUE(torch::equal(w.index({0, torch::indexing::Slice(1, 33)}),
                           d.validation_windows(0, 1).index({0, torch::indexing::Slice(1, 33)})));
  EXPECT_EQ(w[1][0].item<int64_t>(), w[0][32].item<int64_t>());
  fs::remove(p);
}

TEST(Data, Uint16TokenFiles) {
  std::string bytes;
  for (uint16_t t = 0; t < 2000; ++t) {
    const uint16_t v = static_cast<uint16_t>(t * 31 % 50000);
    bytes.push_back(static_cast<char>(v & 0xFF));
    bytes.push_back(static_cast<char>(v >> 8));
  }
  auto p = temp_file("c.bin", bytes);
  auto d = TokenData::load("tokens:" + p.string(), 50257, 16);
  EXPECT_EQ(d.train_tokens() + d.validation_tokens(), 2000);
  EXPECT_LT(d.batch(Split::Train, 8, 0, 0).max().item<int64_t>(), 50000);
  EXPECT_THROW(TokenData::load("tokens:" + p.string(), 1000, 16), std::runtime_error);
  fs::remove(p);
}

TEST(Data, ErrorsNameTheFile) {
  try {
    TokenData::load("/no/such/file.txt", 256, 16);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/file.txt"), std::string::npos);
  }
  auto p = temp_file("d.txt", "tiny");
  try {
    TokenData::load(p.string(), 256, 64);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("too short for seq_len 64"), std::string::npos) << e.what();
  }
  fs::remove(p);
}
