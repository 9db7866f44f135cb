// Times scalelab's GPU training step (train/step.h: the step the trainer runs
// for every run of a sweep) on the model and setting of the PyTorch peers in
// shared/peers/bench_peers.py (train_eager / train_compile --model llama): a
// fixed random batch already on the GPU, AdamW lr 3e-4, betas (0.9, 0.95),
// weight decay 0.1, clip 1.0, bf16 autocast, vocab 32000, tied head.
//
//   bench_trainer --arch softmax --d-model 768 --layers 12 --heads 12 --seq 1024 --batch 16
//                 [--steps 30] [--graph on|off] [--profile] [--json out.jsonl]
//
// Step time: median over --steps of CUDA events around each step, after
// --warmup steps (the CUDA graph is captured during these), as the peer does.
// MFU in the peer's convention (6 x (non-embedding params + head) per token,
// 989 TFLOP/s) and in the planner's exact FLOP count; peak memory beside the
// planner's estimate. --profile records 3 steps with the kineto profiler and
// prints where the GPU time went, by kernel and by kind.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "models/decoder.h"
#include "models/spec/spec.h"
#include "sweep/accounting.h"
#include "train/env.h"
#include "train/optimizer.h"
#include "train/step.h"

using namespace scalelab;

namespace {

struct Args {
  std::string arch = "softmax", graph = "on", json, label;
  int d_model = 768, layers = 12, heads = 12, seq = 1024, batch = 16, vocab = 32000;
  int steps = 30, warmup = 5, micro_batch = 0;
  bool profile = false;
  int top = 18;
};

std::string kind_of(const std::string& k) {
  auto has = [&](const char* s) { return k.find(s) != std::string::npos; };
  if (has("gemm") || has("cutlass") || has("xmma") || has("nvjet") || has("cublas") || has("Kernel2"))
    return "matmul";
  if (has("flash") || has("fmha") || has("cudnn") || has("attention")) return "attention (SDPA)";
  if (has("scalelab") && (has("scan") || has("tile") || has("cumsum") || has("chunk")))
    return "linear attention (ours)";
  if (has("rms_norm")) return "rms_norm (ours)";
  if (has("swiglu")) return "swiglu (ours)";
  if (has("rope")) return "rope (ours)";
  if (has("ce_rows")) return "cross-entropy (ours)";
  if (has("adam") || has("multi_tensor") || has("foreach")) return "optimizer";
  if (has("embedding") || has("indexSelect") || has("sort") || has("radix")) return "embedding";
  if (has("reduce") || has("Reduce")) return "reductions";
  return "elementwise / copies";
}

// A kernel's name without the namespaces and parameter list that make
// LibTorch's and our template names unreadable when cut to one line.
std::string short_name(std::string n) {
  for (const char* junk : {"void ", "at::native::", "(anonymous namespace)::",
                           "scalelab::kernels::cuda::", "__nv_bfloat16", "c10::"}) {
    const std::string j = junk;
    for (size_t at; (at = n.find(j)) != std::string::npos;)
      n.replace(at, j.size(), j == "__nv_bfloat16" ? "bf16" : "");
  }
  // The parameter list: the last top-level "(...)".
  if (!n.empty() && n.back() == ')') {
    int depth = 0;
    for (size_t i = n.size(); i-- > 0;) {
      depth += n[i] == ')' ? 1 : n[i] == '(' ? -1 : 0;
      if (depth == 0) {
        n.resize(i);
        break;
      }
    }
  }
  return n;
}

void print_profile(const std::function<void()>& step, int steps, int top_n) {
  using namespace torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  torch::profiler::impl::ProfilerConfig cfg(torch::profiler::impl::ProfilerState::KINETO);
  const std::set<ActivityType> acts{ActivityType::CPU, ActivityType::CUDA};
  prepareProfiler(cfg, acts);
  enableProfiler(cfg, acts);
  for (int i = 0; i < steps; ++i) step();
  torch::cuda::synchronize();
  auto result = disableProfiler();
  std::map<std::string, std::pair<double, int>> by_kernel;
  std::map<std::string, double> by_kind;
  double total = 0;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    const std::string n = e.name();
    if (n.rfind("Memcpy", 0) == 0 || n.rfind("Memset", 0) == 0) continue;
    const double ms = e.durationNs() * 1e-6 / steps;
    by_kernel[n].first += ms;
    by_kernel[n].second += 1;
    by_kind[kind_of(n)] += ms;
    total += ms;
  }
  std::vector<std::pair<double, std::string>> kinds;
  for (auto& [k, v] : by_kind) kinds.push_back({v, k});
  std::sort(kinds.rbegin(), kinds.rend());
  std::printf("profile: %.2f ms of kernels per step\n", total);
  for (auto& [v, k] : kinds) std::printf("  %-28s %8.3f ms  %5.1f%%\n", k.c_str(), v, 100 * v / total);
  std::vector<std::pair<double, std::string>> top;
  for (auto& [k, v] : by_kernel) top.push_back({v.first, k});
  std::sort(top.rbegin(), top.rend());
  std::printf("  top kernels (ms per step, launches per step):\n");
  for (size_t i = 0; i < std::min<size_t>(top_n, top.size()); ++i)
    std::printf("    %7.3f  %3d  %.150s\n", top[i].first, by_kernel[top[i].second].second / steps,
                short_name(top[i].second).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"scalelab GPU training-step benchmark"};
  app.add_option("--arch", a.arch, "mixer part of the descriptor, e.g. softmax, lightning, "
                                   "hybrid(lightning,softmax@3:1)");
  app.add_option("--d-model", a.d_model);
  app.add_option("--layers", a.layers);
  app.add_option("--heads", a.heads);
  app.add_option("--seq", a.seq);
  app.add_option("--batch", a.batch, "sequences per step");
  app.add_option("--vocab", a.vocab);
  app.add_option("--micro-batch", a.micro_batch, "sequences per forward (0: the whole batch)");
  app.add_option("--steps", a.steps, "timed steps");
  app.add_option("--warmup", a.warmup, "untimed steps first (the graph is captured in these)");
  app.add_option("--graph", a.graph, "on | off")->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--profile", a.profile, "print where the GPU time of a step goes");
  app.add_option("--top", a.top, "kernels listed by --profile");
  app.add_option("--json", a.json, "append the result as one JSON line to this file");
  app.add_option("--label", a.label, "name of this row in the JSON");
  CLI11_PARSE(app, argc, argv);
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "bench_trainer: no CUDA device\n");
    return 2;
  }
  const std::string desc = a.arch + ":L" + std::to_string(a.layers) + ":d" +
                           std::to_string(a.d_model) + ":h" + std::to_string(a.heads) + ":v" +
                           std::to_string(a.vocab) + ":T" + std::to_string(a.seq);
  spec::ModelSpec ms;
  try {
    ms = spec::parse_descriptor(desc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_trainer: %s: %s\n", desc.c_str(), e.what());
    return 2;
  }
  torch::Device dev("cuda:0");
  c10::cuda::CUDAStreamGuard stream(c10::cuda::getStreamFromPool());
  models::Decoder model(ms);
  model->init_weights(0);
  model->to(dev);
  std::vector<torch::Tensor> decay, none;
  for (auto& p : model->parameters()) (p.dim() >= 2 ? decay : none).push_back(p);
  train::AdamWOptions o;
  o.lr = 3e-4;
  o.beta1 = 0.9;
  o.beta2 = 0.95;
  o.weight_decay = 0.1;
  o.max_grad_norm = 1.0;
  train::AdamW opt(decay, none, o);
  train::StepOptions so;
  so.batch = a.batch;
  so.seq_len = a.seq;
  so.micro_batch = a.micro_batch;
  so.cuda_graph = a.graph == "on";
  train::TrainStep step(model, opt, dev, so);
  torch::manual_seed(0);
  step.input().copy_(torch::randint(0, a.vocab, step.input().sizes(), torch::kInt64));

  c10::cuda::CUDACachingAllocator::resetPeakStats(0);
  auto t0 = std::chrono::steady_clock::now();
  step.run(o.lr);
  torch::cuda::synchronize();
  const double first_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 1; i < a.warmup; ++i) step.run(o.lr);
  torch::cuda::synchronize();
  const auto cur = c10::cuda::getCurrentCUDAStream();
  std::vector<at::cuda::CUDAEvent> s, e;
  for (int i = 0; i < a.steps; ++i) {
    s.emplace_back(cudaEventDefault);
    e.emplace_back(cudaEventDefault);
  }
  for (int i = 0; i < a.steps; ++i) {
    s[i].record(cur);
    step.run(o.lr);
    e[i].record(cur);
  }
  torch::cuda::synchronize();
  std::vector<double> ms_steps;
  for (int i = 0; i < a.steps; ++i) ms_steps.push_back(s[i].elapsed_time(e[i]));
  std::sort(ms_steps.begin(), ms_steps.end());
  const double med = ms_steps[ms_steps.size() / 2];
  const double loss = step.stats()[0].item<double>();
  const int64_t tokens = int64_t{a.batch} * a.seq;
  const double tps = tokens / (med * 1e-3);
  const auto pc = spec::count_params(ms);
  const double f6 = 6.0 * (pc.non_embedding + double(a.vocab) * a.d_model);
  const double fexact = spec::train_flops_per_token(ms);
  const double peak = 989e12;
  const int64_t peak_mem = train::peak_memory_bytes(dev);
  const int64_t micro = step.micro_batch();
  const double est = sweep::training_memory(ms, pc.total, micro * a.seq).total();
  std::printf("%s %s B%d T%d graph %s%s: step %.2f ms (min %.2f max %.2f), %.0f tok/s, "
              "MFU 6N+head %.1f%% exact %.1f%%, loss %.3f, first step %.2f s, peak %.2f GiB "
              "(planner %.2f GiB, %.2fx)\n",
              a.label.c_str(), desc.c_str(), a.batch, a.seq, a.graph.c_str(),
              step.capture_error().empty() ? "" : (" [capture failed: " + step.capture_error() + "]").c_str(),
              med, ms_steps.front(), ms_steps.back(), tps, 100 * f6 * tps / peak,
              100 * fexact * tps / peak, loss, first_s, peak_mem / 1073741824.0, est / 1073741824.0,
              peak_mem / est);
  if (a.profile) print_profile([&] { step.run(o.lr); }, 3, a.top);
  if (!a.json.empty()) {
    nlohmann::json j = {{"label", a.label},        {"descriptor", desc},
                        {"batch", a.batch},        {"seq", a.seq},
                        {"graph", step.graphed()}, {"step_ms_median", med},
                        {"step_ms_min", ms_steps.front()}, {"tokens_per_s", tps},
                        {"mfu_6N_nonembed_plus_lmhead", f6 * tps / peak},
                        {"mfu_exact", fexact * tps / peak}, {"final_loss", loss},
                        {"first_step_s", first_s}, {"peak_mem_bytes", peak_mem},
                        {"planner_memory_estimate_bytes", est}, {"params", pc.total},
                        {"gpu", train::device_name(dev)}};
    std::ofstream(a.json, std::ios::app) << j.dump() << "\n";
  }
  return std::isfinite(loss) ? 0 : 1;
}
