// bench_stall SOURCE [ARCH] [BATCH] [STEPS]: does the loader ever stall a GPU step?
//
// Trains ARCH (default softmax:L12:d768:h12:v32000:T1024, GPT-2 small) on one GPU,
// bf16 autocast, AdamW, for STEPS timed steps (default 40, after 5 warm-up
// steps), twice:
//   fixed   one batch, made once and resident on the GPU: no loader at all;
//   shards  a new batch of SOURCE every step (train::TokenData, e.g.
//           shards:DIR made by `data prepare`), filled by a prefetch thread
//           with batch_into into pinned buffers (two, alternating) and copied
//           to the GPU with non_blocking, as the trainer does.
// Prints the median step time of each and their ratio; the loader passes when
// shards is within 2% of fixed. Exit code 0 when it passes, 1 when not.
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "models/decoder.h"
#include "train/data.h"

namespace sl = scalelab;

namespace {

using Clock = std::chrono::steady_clock;

// Fills pinned buffers with batch_into on its own thread, BUFS steps ahead.
class Prefetcher {
 public:
  Prefetcher(const sl::train::TokenData& data, int64_t batch, int64_t seq, int bufs)
      : data_(data), batch_(batch) {
    for (int i = 0; i < bufs; ++i)
      bufs_.push_back(torch::empty({batch, seq + 1}, torch::TensorOptions().dtype(torch::kInt64).pinned_memory(true)));
    ready_.assign(bufs_.size(), -1);
    thread_ = std::thread([this] { run(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // The pinned batch of STEP, once filled; call release(STEP) when its copy is done.
  const torch::Tensor& get(int64_t step) {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return ready_[slot(step)] == step; });
    return bufs_[slot(step)];
  }
  void release(int64_t step) {
    {
      std::lock_guard<std::mutex> g(m_);
      ready_[slot(step)] = -1;
      consumed_ = step + 1;
    }
    cv_.notify_all();
  }

 private:
  size_t slot(int64_t step) const { return static_cast<size_t>(step) % bufs_.size(); }
  void run() {
    for (int64_t step = 0;; ++step) {
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return stop_ || step < consumed_ + static_cast<int64_t>(bufs_.size()); });
        if (stop_) return;
      }
      data_.batch_into(sl::train::Split::Train, batch_, 0, step, bufs_[slot(step)].data_ptr<int64_t>());
      {
        std::lock_guard<std::mutex> g(m_);
        ready_[slot(step)] = step;
      }
      cv_.notify_all();
    }
  }
  const sl::train::TokenData& data_;
  int64_t batch_;
  std::vector<torch::Tensor> bufs_;
  std::vector<int64_t> ready_;
  int64_t consumed_ = 0;
  bool stop_ = false;
  std::mutex m_;
  std::condition_variable cv_;
  std::thread thread_;
};

double step(sl::models::Decoder& model, torch::optim::AdamW& opt, const torch::Tensor& w) {
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  auto logits = model->forward(w.slice(1, 0, -1));
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
  auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat),
                                                   w.slice(1, 1).reshape({-1}));
  loss.backward();
  opt.step();
  opt.zero_grad();
  return loss.item<double>();  // one sync a step, as the trainer's loss logging does
}

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
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 16, steps = argc > 4 ? std::atoll(argv[4]) : 40;
  const int64_t warm = 5, seq = spec.seq_len;
  const auto data = sl::train::TokenData::load(source, spec.vocab, seq);
  const torch::Device dev("cuda:0");
  sl::models::Decoder model(spec);
  model->init_weights(0);
  model->to(dev);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-4));

  const torch::Tensor fixed = data.batch(sl::train::Split::Train, batch, 0, 0).to(dev);
  auto time_fixed = [&] {
    std::vector<double> t;
    for (int64_t s = 0; s < warm + steps; ++s) {
      torch::cuda::synchronize();
      const auto t0 = Clock::now();
      step(model, opt, fixed);
      torch::cuda::synchronize();
      if (s >= warm) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return median(t);
  };
  auto time_shards = [&] {
    std::vector<double> t;
    Prefetcher pf(data, batch, seq, 2);
    for (int64_t s = 0; s < warm + steps; ++s) {
      torch::cuda::synchronize();
      const auto t0 = Clock::now();
      const torch::Tensor w = pf.get(s).to(dev, /*non_blocking=*/true);
      step(model, opt, w);  // its loss.item() also orders the copy before release
      pf.release(s);
      torch::cuda::synchronize();
      if (s >= warm) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return median(t);
  };
  // Fixed before and after, so clock or thermal drift does not favour either.
  const double f1 = time_fixed(), r = time_shards(), f2 = time_fixed();
  const double f = (f1 + f2) / 2;
  std::printf("fixed before %.2f ms, after %.2f ms\n", f1 * 1e3, f2 * 1e3);
  const double tok = static_cast<double>(batch * seq);
  std::printf("%s, B %lld x T %lld, %lld steps after %lld warm-up\n", sl::spec::to_descriptor(spec).c_str(),
              static_cast<long long>(batch), static_cast<long long>(seq), static_cast<long long>(steps),
              static_cast<long long>(warm));
  std::printf("fixed batch on the GPU: median %.2f ms a step (%.0f tok/s)\n", f * 1e3, tok / f);
  std::printf("shards (%s): median %.2f ms a step (%.0f tok/s)\n", source.c_str(), r * 1e3, tok / r);
  std::printf("ratio shards / fixed = %.4f: %s (target within 2%%)\n", r / f, r / f <= 1.02 ? "PASS" : "FAIL");
  return r / f <= 1.02 ? 0 : 1;
}
