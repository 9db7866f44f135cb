// bench_stall SOURCE [ARCH] [BATCH] [STEPS]: does the loader ever stall a GPU step?
//
// Trains ARCH (default softmax:L12:d768:h12:v32000:T1024, GPT-2 small) on one
// GPU with the trainer's own step (train/step.h: bf16, fused AdamW, CUDA graph)
// for STEPS steps (default 50) per measurement, in two ways:
//   fixed   one batch, put into the step's input once: no loader at all;
//   shards  a new batch of SOURCE (e.g. shards:DIR from `data prepare`) every
//           step, through the trainer's input pipeline (train/prefetch.h:
//           a worker thread fills pinned buffers with TokenData::batch_into,
//           copies on a side stream).
// Order fixed, shards, three times over (after a warm-up of both), each timed
// from a device sync to a device sync; the loader passes when the median
// shards time is within 2% of the median fixed time. Exit code 0 on a pass.
#include <torch/torch.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "models/decoder.h"
#include "train/data.h"
#include "train/optimizer.h"
#include "train/prefetch.h"
#include "train/step.h"

namespace sl = scalelab;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !torch::cuda::is_available()) {
    std::fprintf(stderr, "usage: bench_stall SOURCE [ARCH] [BATCH] [STEPS] (needs a GPU)\n");
    return 2;
  }
  const std::string source = argv[1];
  const auto spec = sl::spec::parse_descriptor(argc > 2 ? argv[2] : "softmax:L12:d768:h12:v32000:T1024");
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 16, steps = argc > 4 ? std::atoll(argv[4]) : 50;
  const int64_t seq = spec.seq_len;
  const auto data = sl::train::TokenData::load(source, spec.vocab, seq);
  const torch::Device dev("cuda:0");
  c10::cuda::CUDAStreamGuard stream(c10::cuda::getStreamFromPool(false, 0));  // graphs need a side stream

  sl::models::Decoder model(spec);
  model->init_weights(0);
  model->to(dev);
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  sl::train::AdamWOptions ao;
  ao.lr = 3e-4;
  ao.max_grad_norm = 1.0;
  sl::train::AdamW opt(decay, no_decay, ao);
  sl::train::StepOptions so;
  so.batch = batch;
  so.seq_len = seq;
  sl::train::TrainStep step(model, opt, dev, so);
  sl::train::Prefetcher prefetch(
      [&data, batch](int64_t s, int64_t* out) { data.batch_into(sl::train::Split::Train, batch, 0, s, out); },
      {batch, seq + 1}, dev, 0);
  const torch::Tensor fixed = data.batch(sl::train::Split::Train, batch, 0, 0).to(dev);

  int64_t next = 0;  // the prefetcher's steps are asked for in order
  auto timed = [&](bool shards) {
    torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < steps; ++i) {
      if (shards) prefetch.next_into(next++, step.input());
      else step.input().copy_(fixed);  // the same device-to-device copy next_into ends with
      step.run(3e-4);
    }
    torch::cuda::synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  };
  timed(false);  // warm-up: graph capture, allocator, clocks
  timed(true);
  std::vector<double> f, r;
  for (int k = 0; k < 3; ++k) {
    f.push_back(timed(false));
    r.push_back(timed(true));
  }
  const double mf = median(f), mr = median(r), tok = static_cast<double>(batch * seq);
  std::printf("%s, B %lld x T %lld, %lld steps a measurement, CUDA graph %s\n",
              sl::spec::to_descriptor(spec).c_str(), static_cast<long long>(batch),
              static_cast<long long>(seq), static_cast<long long>(steps), step.graphed() ? "on" : "off");
  std::printf("fixed batch on the GPU: %.3f / %.3f / %.3f ms a step (median %.0f tok/s)\n", f[0] * 1e3,
              f[1] * 1e3, f[2] * 1e3, tok / mf);
  std::printf("shards (%s): %.3f / %.3f / %.3f ms a step (median %.0f tok/s)\n", source.c_str(),
              r[0] * 1e3, r[1] * 1e3, r[2] * 1e3, tok / mr);
  const double ratio = mr / mf;
  std::printf("ratio shards / fixed = %.4f: %s (target within 2%%)\n", ratio, ratio <= 1.02 ? "PASS" : "FAIL");
  return ratio <= 1.02 ? 0 : 1;
}
