#include "train/data.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace scalelab::train {

namespace {

constexpr int64_t kBlock = 64 * 1024;
constexpr int64_t kHoldOutEvery = 20;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("data: cannot open '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw std::runtime_error("data: '" + path + "' is empty");
  return bytes;
}

torch::Tensor byte_tokens(const std::string& bytes) {
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t.to(torch::kInt64);
}

torch::Tensor u16_tokens(const std::string& bytes, const std::string& path) {
  if (bytes.size() % 2 != 0)
    throw std::runtime_error("data: '" + path + "' has an odd byte count; expected uint16 tokens");
  const int64_t n = static_cast<int64_t>(bytes.size() / 2);
  auto t = torch::empty({n}, torch::kInt16);
  std::memcpy(t.data_ptr<int16_t>(), bytes.data(), bytes.size());
  // Reinterpret the int16 storage as unsigned.
  return t.to(torch::kInt64).bitwise_and(0xFFFF);
}

}  // namespace

std::string builtin_corpus_path() {
  if (const char* p = std::getenv("SCALELAB_DATA"); p && *p) return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/scalelab/data/kjv.txt";
}

TokenData TokenData::load(const std::string& source, int64_t vocab, int64_t seq_len) {
  std::string path = source;
  bool u16 = false;
  if (source == "builtin:kjv") {
    path = builtin_corpus_path();
    if (!std::filesystem::exists(path))
      throw std::runtime_error("data: built-in corpus '" + path +
                               "' is missing; run scripts/setup.sh (or set SCALELAB_DATA)");
  } else if (source.rfind("text:", 0) == 0) {
    path = source.substr(5);
  } else if (source.rfind("tokens:", 0) == 0) {
    path = source.substr(7);
    u16 = true;
  }
  const std::string bytes = read_file(path);
  torch::Tensor all = u16 ? u16_tokens(bytes, path) : byte_tokens(bytes);
  const int64_t max_tok = all.max().item<int64_t>();
  if (max_tok >= vocab)
    throw std::runtime_error("data: '" + path + "' holds token " + std::to_string(max_tok) +
                             " but the model's vocab is " + std::to_string(vocab));

  std::vector<torch::Tensor> tr, va;
  const int64_t n = all.numel();
  for (int64_t b = 0, i = 0; b < n; b += kBlock, ++i) {
    auto block = all.slice(0, b, std::min(n, b + kBlock));
    (i % kHoldOutEvery == kHoldOutEvery - 1 ? va : tr).push_back(block);
  }
  if (va.empty()) {  // small files: hold out the last tenth
    const int64_t cut = n - n / 10;
    tr = {all.slice(0, 0, cut)};
    va = {all.slice(0, cut, n)};
  }
  TokenData d;
  d.source_ = source;
  d.seq_len_ = seq_len;
  d.train_ = torch::cat(tr);
  d.val_ = torch::cat(va);
  if (d.train_.numel() <= seq_len + 1 || d.val_.numel() <= seq_len + 1)
    throw std::runtime_error("data: '" + path + "' (" + std::to_string(n) +
                             " tokens) is too short for seq_len " + std::to_string(seq_len));
  return d;
}

torch::Tensor TokenData::batch(Split split, int64_t batch, uint64_t seed, int64_t step) const {
  const torch::Tensor& src = split == Split::Train ? train_ : val_;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed * 0x9E3779B97F4A7C15ULL + step + 1);
  const int64_t hi = src.numel() - (seq_len_ + 1);
  auto starts = torch::randint(0, hi + 1, {batch}, gen, torch::kInt64);
  auto offs = torch::arange(seq_len_ + 1, torch::kInt64);
  return src.index({starts.unsqueeze(1) + offs.unsqueeze(0)});
}

int64_t TokenData::num_validation_windows() const { return (val_.numel() - 1) / seq_len_; }

torch::Tensor TokenData::validation_windows(int64_t first, int64_t count) const {
  const int64_t n = num_validation_windows();
  if (first < 0 || first + count > n)
    throw std::out_of_range("data: validation windows [" + std::to_string(first) + ", " +
                            std::to_string(first + count) + ") out of " + std::to_string(n));
  auto starts = torch::arange(first, first + count, torch::kInt64) * seq_len_;
  auto offs = torch::arange(seq_len_ + 1, torch::kInt64);
  return val_.index({starts.unsqueeze(1) + offs.unsqueeze(0)});
}

}  // namespace scalelab::train
