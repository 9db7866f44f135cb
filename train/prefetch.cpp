#include "train/prefetch.h"

#if SCALELAB_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace scalelab::train {

// A slot goes Free -> (worker) Filled -> (main) Copying -> (main) Free.
struct Prefetcher::Slot {
  enum class State { Free, Filled, Copying } state = State::Free;
  int64_t step = -1;
  torch::Tensor host, staging;
#if SCALELAB_HAVE_CUDA
  at::cuda::CUDAEvent copied, consumed;  // H2D into staging done; D2D out of it done
#endif
};

struct Prefetcher::Cuda {
#if SCALELAB_HAVE_CUDA
  c10::cuda::CUDAStream copy_stream;
  explicit Cuda(torch::Device dev) : copy_stream(c10::cuda::getStreamFromPool(false, dev.index())) {}
#endif
};

Prefetcher::Prefetcher(Fill fill, std::vector<int64_t> shape, torch::Device dev, int64_t first,
                       int depth)
    : fill_(std::move(fill)), shape_(std::move(shape)), dev_(dev), next_fill_(first),
      next_take_(first) {
  TORCH_CHECK(depth >= 2, "Prefetcher: depth must be at least 2");
  const bool gpu = dev.is_cuda();
#if !SCALELAB_HAVE_CUDA
  TORCH_CHECK(!gpu, "Prefetcher: this build has no CUDA support");
#else
  if (gpu) cuda_ = std::make_unique<Cuda>(dev);
#endif
  for (int i = 0; i < depth; ++i) {
    auto s = std::make_unique<Slot>();
    s->host = torch::empty(shape_, torch::dtype(torch::kInt64).pinned_memory(gpu));
    if (gpu) s->staging = torch::empty(shape_, torch::dtype(torch::kInt64).device(dev));
    slots_.push_back(std::move(s));
  }
  worker_ = std::thread([this] { work(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void Prefetcher::work() {
  try {
    for (;;) {
      Slot* slot;
      int64_t step;
      {
        std::unique_lock<std::mutex> lock(mu_);
        slot = slots_[next_fill_ % slots_.size()].get();
        cv_.wait(lock, [&] { return stop_ || slot->state == Slot::State::Free; });
        if (stop_) return;
        step = next_fill_++;
      }
#if SCALELAB_HAVE_CUDA
      if (cuda_) slot->copied.synchronize();  // the last copy out of this host buffer
#endif
      fill_(step, slot->host.data_ptr<int64_t>());
      {
        std::lock_guard<std::mutex> lock(mu_);
        slot->step = step;
        slot->state = Slot::State::Filled;
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

void Prefetcher::issue_copies() {
#if SCALELAB_HAVE_CUDA
  for (auto& s : slots_) {
    if (s->state != Slot::State::Filled) continue;
    c10::cuda::CUDAStreamGuard guard(cuda_->copy_stream);
    s->consumed.block(cuda_->copy_stream);  // the staging buffer's last reader
    s->staging.copy_(s->host, /*non_blocking=*/true);
    s->copied.record(cuda_->copy_stream);
    s->state = Slot::State::Copying;
  }
#endif
}

void Prefetcher::next_into(int64_t step, torch::Tensor& dst) {
  TORCH_CHECK(step == next_take_, "Prefetcher: asked for step ", step, ", expected ", next_take_);
  Slot* slot = slots_[step % slots_.size()].get();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] {
    return error_ || (slot->step == step && slot->state != Slot::State::Free);
  });
  if (error_) std::rethrow_exception(error_);
  if (!cuda_) {
    dst.copy_(slot->host);
  } else {
#if SCALELAB_HAVE_CUDA
    issue_copies();  // this slot's copy, if it was not started yet
    const auto compute = c10::cuda::getCurrentCUDAStream(dev_.index());
    slot->copied.block(compute);
    dst.copy_(slot->staging, /*non_blocking=*/true);
    slot->consumed.record(compute);
#endif
  }
  slot->state = Slot::State::Free;
  ++next_take_;
  if (cuda_) issue_copies();  // the next steps' copies overlap this step
  lock.unlock();
  cv_.notify_all();
}

}  // namespace scalelab::train
