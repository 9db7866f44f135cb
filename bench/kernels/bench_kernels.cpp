// Times scalelab's CUDA linear-attention ops (scalar decay = Lightning/Mamba2
// SSD family, vector decay = GLA/HGRN2 family, gdn = the gated delta rule of
// Gated DeltaNet, inputs as bench_peers.py's fla_gated_delta) with CUDA events, in the shapes
// and FLOP convention of the shared peer benchmark (bench_peers.py), so the
// two JSON files can be joined row by row (bench/kernels/compare.py).
//
//   bench_kernels --ds 64,128 --Ts 1024,...,32768 --json out.json
//
// fwd: one training forward (inputs require grad). fwd+bwd: forward, then
// autograd::grad w.r.t. q, k, v, g (and beta for gdn) with a fixed random dO. Each timing is the
// median over --iters replays of the call captured in a CUDA graph (pure GPU
// time with the gaps between kernels, as bench_peers.py times the peers: the
// same column), after --warmup eager calls; the eager time (events around
// each call issued back to back: host and launch overhead included) is
// recorded beside it. --timing events times eagerly only.
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/delta_rule/op.h"
#include "kernels/scalar_decay/op.h"
#include "kernels/vector_decay/op.h"

namespace sk = scalelab::kernels;

namespace {

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoll(item));
  return out;
}

// Median device time of FN in ms.
double time_ms(const std::function<void()>& fn, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) fn();
  torch::cuda::synchronize();
  std::vector<at::cuda::CUDAEvent> start(iters), stop(iters);
  for (auto& e : start) e = at::cuda::CUDAEvent(cudaEventDefault);
  for (auto& e : stop) e = at::cuda::CUDAEvent(cudaEventDefault);
  auto stream = c10::cuda::getCurrentCUDAStream();
  for (int i = 0; i < iters; ++i) {
    start[i].record(stream);
    fn();
    stop[i].record(stream);
  }
  torch::cuda::synchronize();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) ms.push_back(start[i].elapsed_time(stop[i]));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Median GPU time of FN replayed from a CUDA graph, in ms; captured on a side
// stream after WARMUP eager calls there (the caching allocator and autograd
// settle first). Backward ops run on their forward's stream, so autograd
// inside FN is captured too.
double graph_ms(const std::function<void()>& fn, int warmup, int iters) {
  auto side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAGraph graph;
  {
    c10::cuda::CUDAStreamGuard guard(side);
    for (int i = 0; i < warmup; ++i) fn();
    side.synchronize();
    graph.capture_begin();
    fn();
    graph.capture_end();
  }
  return time_ms([&] { graph.replay(); }, 3, iters);
}

struct Entry {
  std::string op;
  int64_t d, T;
  double fwd_ms, fwdbwd_ms, flops;
  double fwd_eager_ms, fwdbwd_eager_ms;
};

enum class Family { kScalar, kVector, kGdn };

Entry measure(Family fam, int64_t B, int64_t H, int64_t T, int64_t d, int warmup, int iters,
              bool graphs) {
  const bool vec = fam == Family::kVector;
  torch::manual_seed(0);
  auto bf = torch::dtype(torch::kBFloat16).device(torch::kCUDA);
  auto f32 = bf.dtype(torch::kFloat32);
  torch::Tensor q, k, v, g, beta;
  if (fam == Family::kGdn) {
    // As bench_peers.py's fla_gated_delta: unit q, k rows, g = logsigmoid(randn).
    auto unit = [&] {
      auto x = torch::randn({B, T, H, d}, f32);
      return (x / x.norm(2, -1, true)).to(torch::kBFloat16).requires_grad_(true);
    };
    q = unit();
    k = unit();
    v = torch::randn({B, T, H, d}, bf).requires_grad_(true);
    g = torch::nn::functional::logsigmoid(torch::randn({B, T, H}, f32)).requires_grad_(true);
    beta = torch::rand({B, T, H}, f32).sigmoid().requires_grad_(true);
  } else {
    q = torch::randn({B, T, H, d}, bf).requires_grad_(true);
    k = torch::randn({B, T, H, d}, bf).requires_grad_(true);
    v = torch::randn({B, T, H, d}, bf).requires_grad_(true);
    auto gshape = vec ? std::vector<int64_t>{B, T, H, d} : std::vector<int64_t>{B, T, H};
    g = torch::nn::functional::logsigmoid(torch::randn(gshape, f32)).div(16).requires_grad_(true);
  }
  sk::LinearAttnOptions opt;
  opt.output_final_state = false;
  auto run = [&]() -> torch::Tensor {
    if (fam == Family::kGdn) return sk::delta_rule_chunked(q, k, v, g, beta, {}, opt).o;
    return vec ? sk::vector_decay_chunked(q, k, v, g, {}, opt).o
               : sk::scalar_decay_chunked(q, k, v, g, {}, opt).o;
  };
  auto dout = torch::randn({B, T, H, d}, bf);
  std::vector<torch::Tensor> wrt = {q, k, v, g};
  if (fam == Family::kGdn) wrt.push_back(beta);
  auto fwd = [&] { run(); };
  auto fwdbwd = [&] {
    auto o = run();
    torch::autograd::grad({o}, wrt, {dout});
  };
  Entry e;
  e.op = fam == Family::kGdn ? "scalelab_gated_delta"
         : vec             ? "scalelab_vector_decay"
                           : "scalelab_scalar_decay";
  e.d = d;
  e.T = T;
  e.fwd_eager_ms = time_ms(fwd, warmup, iters);
  e.fwdbwd_eager_ms = time_ms(fwdbwd, warmup, iters);
  e.fwd_ms = graphs ? graph_ms(fwd, warmup, iters) : e.fwd_eager_ms;
  e.fwdbwd_ms = graphs ? graph_ms(fwdbwd, warmup, iters) : e.fwdbwd_eager_ms;
  // bench_peers.py's linear-attention convention: BH(4 T dk dv + 2 T C (dk + dv)), C = 64
  // (for gdn a lower bound, as there: the WY transform adds O(T C d)).
  e.flops = double(B * H) * (4.0 * T * d * d + 2.0 * T * 64 * (2.0 * d));
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time scalelab's CUDA linear-attention ops"};
  std::string ds = "64,128", Ts = "1024,2048,4096,8192,16384,32768", families = "scalar,vector";
  std::string json_path;
  int64_t B = 4, H = 16;
  int warmup = 5, iters = 20;
  app.add_option("--ds", ds, "head dims (K = V)");
  app.add_option("--Ts", Ts, "sequence lengths");
  app.add_option("--families", families, "any of scalar,vector,gdn");
  app.add_option("-B", B);
  app.add_option("-H", H);
  app.add_option("--warmup", warmup);
  app.add_option("--iters", iters);
  app.add_option("--json", json_path, "write the entries here");
  std::string timing = "graph";
  app.add_option("--timing", timing, "graph (CUDA-graph replay, as the peers) or events (eager)")
      ->check(CLI::IsMember({"graph", "events"}));
  CLI11_PARSE(app, argc, argv);
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "bench_kernels: no CUDA device\n");
    return 1;
  }
  std::vector<Entry> entries;
  std::printf("timing: %s\n%-24s %4s %6s %10s %8s %10s %8s %12s\n", timing.c_str(), "op", "d", "T",
              "fwd ms", "TF/s", "f+b ms", "TF/s", "f+b eager");
  std::vector<Family> fams;
  {
    std::stringstream ss(families);
    for (std::string f; std::getline(ss, f, ',');) {
      if (f == "scalar") fams.push_back(Family::kScalar);
      else if (f == "vector") fams.push_back(Family::kVector);
      else if (f == "gdn") fams.push_back(Family::kGdn);
      else {
        std::fprintf(stderr, "bench_kernels: --families: unknown family '%s' (scalar, vector, gdn)\n",
                     f.c_str());
        return 2;
      }
    }
  }
  for (Family fam : fams) {
    for (int64_t d : parse_list(ds)) {
      for (int64_t T : parse_list(Ts)) {
        Entry e = measure(fam, B, H, T, d, warmup, iters, timing == "graph");
        std::printf("%-24s %4ld %6ld %10.3f %8.1f %10.3f %8.1f %12.3f\n", e.op.c_str(), long(e.d),
                    long(e.T), e.fwd_ms, e.flops / e.fwd_ms / 1e9, e.fwdbwd_ms,
                    3 * e.flops / e.fwdbwd_ms / 1e9, e.fwdbwd_eager_ms);
        std::fflush(stdout);
        entries.push_back(e);
        c10::cuda::CUDACachingAllocator::emptyCache();
      }
    }
  }
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << "{\"gpu\": \"" << at::cuda::getCurrentDeviceProperties()->name << "\", \"B\": " << B
      << ", \"H\": " << H << ", \"timing\": \"" << timing << "\", \"entries\": [\n";
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      f << "  {\"op\": \"" << e.op << "\", \"d\": " << e.d << ", \"T\": " << e.T
        << ", \"fwd_ms\": " << e.fwd_ms << ", \"fwdbwd_ms\": " << e.fwdbwd_ms
        << ", \"fwd_eager_ms\": " << e.fwd_eager_ms << ", \"fwdbwd_eager_ms\": " << e.fwdbwd_eager_ms
        << ", \"fwd_tflops\": " << e.flops / e.fwd_ms / 1e9
        << ", \"fwdbwd_tflops\": " << 3 * e.flops / e.fwdbwd_ms / 1e9 << "}"
        << (i + 1 < entries.size() ? ",\n" : "\n");
    }
    f << "]}\n";
  }
  return 0;
}
