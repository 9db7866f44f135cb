// bench_loader DIR [GIB]: tokens per second one core writes into a
// caller-provided [B, T+1] int64 buffer with Dataset::batch_into.
//
// Writes DIR/shards (GIB GiB of uniform random uint16 tokens below 50257,
// default 1, in 100M-token shards, with a manifest) once, then for each shape
// calls batch_into from this one thread for ~2 s of steps and reports M tok/s.
// The buffer is pinned host memory (cudaHostAlloc through LibTorch) when a GPU
// is visible, as the trainer's prefetch thread uses it; plain memory otherwise.
// Windows are spread over the whole set, so most land on pages the process has
// not mapped yet (the reader also releases its mapped pages every ~32 MiB).
// Target: > 15M tok/s (10x the fastest trainer figure in bench/RESULTS.md).
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "data/dataset.h"
#include "data/manifest.h"
#include "data/sink.h"

namespace fs = std::filesystem;
namespace data = scalelab::data;

namespace {

void write_shards(const std::string& dir, int64_t tokens) {
  if (fs::exists(dir + "/manifest.json")) return;
  fs::create_directories(dir);
  data::Manifest m;
  m.tokenizer = {"byte", "", "", 50257, 50256};  // the ids of GPT-2's vocab; no tokenizer is read
  m.documents_from = "file";
  data::SplitSink train(dir, data::Split::Train, 2, 100'000'000), val(dir, data::Split::Validation, 2, 100'000'000);
  std::vector<uint32_t> buf(1 << 20);
  uint64_t x = 88172645463325252ULL;
  for (int64_t done = 0; done < tokens; done += static_cast<int64_t>(buf.size())) {
    for (uint32_t& t : buf) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      t = static_cast<uint32_t>(x % 50257);
    }
    train.append(buf.data(), std::min<int64_t>(static_cast<int64_t>(buf.size()), tokens - done));
  }
  val.append(buf.data(), static_cast<int64_t>(buf.size()));
  m.shards = train.close();
  for (auto& e : val.close()) m.shards.push_back(e);
  data::write_manifest(dir, m);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = std::string(argc > 1 ? argv[1] : "/tmp/bench_loader") + "/shards";
  const double gib = argc > 2 ? std::atof(argv[2]) : 1.0;
  write_shards(dir, static_cast<int64_t>(gib * (1 << 30) / 2));
  const bool pinned = torch::cuda::is_available();
  std::printf("shards: %s (%.2f GiB of uint16 tokens); buffer: %s; 1 thread\n\n", dir.c_str(), gib,
              pinned ? "pinned (cudaHostAlloc)" : "pageable (no GPU visible)");
  std::printf("| B x T | steps | M tok/s | us per step | page faults per window |\n|---|---|---|---|---|\n");
  const std::pair<int64_t, int64_t> shapes[] = {{8, 1024}, {16, 1024}, {64, 1024}, {16, 2048}, {4, 8192}, {256, 128}};
  for (const auto& [B, T] : shapes) {
    const data::Dataset d = data::Dataset::open("shards:" + dir, 50257, T);
    auto opts = torch::TensorOptions().dtype(torch::kInt64).pinned_memory(pinned);
    torch::Tensor buf = torch::empty({B, T + 1}, opts);
    int64_t* out = buf.data_ptr<int64_t>();
    int64_t steps = 0;
    struct rusage r0 {}, r1 {};
    ::getrusage(RUSAGE_SELF, &r0);
    const auto t0 = std::chrono::steady_clock::now();
    double s = 0;
    while (s < 2.0) {
      for (int i = 0; i < 16; ++i) d.batch_into(data::Split::Train, B, 1, steps++, out);
      s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    ::getrusage(RUSAGE_SELF, &r1);
    const double tok = static_cast<double>(steps * B * T);
    std::printf("| %lld x %lld | %lld | **%.1f** | %.1f | %.2f |\n", static_cast<long long>(B),
                static_cast<long long>(T), static_cast<long long>(steps), tok / s / 1e6, s / steps * 1e6,
                static_cast<double>(r1.ru_minflt - r0.ru_minflt) / static_cast<double>(steps * B));
    std::fflush(stdout);
  }
  return 0;
}
