#include "train/step.h"

#include "train/distributed.h"

#if SCALELAB_HAVE_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace scalelab::train {

struct TrainStep::Graph {
#if SCALELAB_HAVE_CUDA
  at::cuda::CUDAGraph graph;
#endif
};

TrainStep::TrainStep(models::Decoder model, AdamW& opt, torch::Device dev, const StepOptions& o)
    : model_(std::move(model)), opt_(opt), dev_(dev), o_(o) {
  TORCH_CHECK(o.batch > 0 && o.seq_len > 0, "TrainStep: batch and seq_len must be positive");
  micro_ = o.micro_batch > 0 ? std::min(o.micro_batch, o.batch) : o.batch;
  input_ = torch::zeros({o.batch, o.seq_len + 1}, torch::dtype(torch::kInt64).device(dev));
  stats_ = torch::zeros({2}, torch::dtype(torch::kFloat32).device(dev));
}

TrainStep::~TrainStep() = default;

void TrainStep::body() {
  torch::Tensor loss_sum;
  {
    // One autocast region per step: the bf16 copies of the weights are made
    // once and shared by every micro-batch (the cache is cleared on exit).
    AutocastGuard autocast(dev_.is_cuda());
    for (int64_t i = 0; i < o_.batch; i += micro_) {
      const int64_t n = std::min(micro_, o_.batch - i);
      auto w = input_.narrow(0, i, n);
      auto loss = model_->loss(w.narrow(1, 0, o_.seq_len), w.narrow(1, 1, o_.seq_len), o_.scored);
      const double share = static_cast<double>(n) / o_.batch;
      if (o_.grad_sync && i + n == o_.batch) o_.grad_sync->arm();
      (loss * share).backward();
      auto part = loss.detach() * share;
      loss_sum = loss_sum.defined() ? loss_sum + part : part;
    }
  }
  if (o_.grad_sync) o_.grad_sync->finish(loss_sum);
  opt_.step();
  torch::NoGradGuard no_grad;
  stats_.select(0, 0).copy_(loss_sum);
  stats_.select(0, 1).copy_(opt_.grad_norm());
}

void TrainStep::capture() {
#if SCALELAB_HAVE_CUDA
  // Gradients are made by the captured backward (at addresses in the graph's
  // pool) and live as long as the graph; the warm-up's are dropped first.
  opt_.zero_grad();
  c10::cuda::CUDACachingAllocator::emptyCache();
  graph_ = std::make_unique<Graph>();
  try {
    // Thread-local capture: the input prefetcher's thread may wait on its copy
    // events meanwhile (global mode would count that as an unsafe call and
    // invalidate the capture); the autograd thread's launches onto the
    // capturing stream are captured either way.
    graph_->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    body();
    graph_->graph.capture_end();
  } catch (const std::exception& e) {
    // An op that cannot be captured (a host sync, say) must not cost the
    // run: nothing ran while capturing, so drop what the capture made and go
    // on eagerly.
    try {
      graph_->graph.capture_end();
    } catch (...) {
    }
    graph_.reset();
    o_.cuda_graph = false;
    opt_.zero_grad();
    std::string what = e.what();
    capture_error_ = what.substr(0, what.find('\n'));
  }
#endif
}

void TrainStep::run(double lr) {
  opt_.set_lr(lr);
  if (!graph_ && o_.cuda_graph && dev_.is_cuda() && done_ >= o_.warmup_steps) capture();
#if SCALELAB_HAVE_CUDA
  if (graph_) {
    graph_->graph.replay();
    ++done_;
    return;
  }
#endif
  body();
  opt_.zero_grad();
  ++done_;
}

}  // namespace scalelab::train
