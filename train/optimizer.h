// AdamW (Loshchilov & Hutter 2019) with the semantics of
// torch.optim.AdamW(fused=True), and global-norm gradient clipping, built so
// that a whole training step can be captured in a CUDA graph:
//   - one multi-tensor ATen kernel per parameter group (_fused_adamw_; a
//     single launch for every tensor on a GPU), instead of LibTorch's
//     per-tensor loop of about ten kernels each;
//   - clipping is fused in: the global norm comes from one _foreach_norm, and
//     the clip factor reaches the AdamW kernel as its grad_scale, so the
//     gradients are read once and never rescaled in a separate pass;
//   - nothing waits for the host: the learning rate and the step count are
//     device tensors, and the pre-clip norm stays on the device (grad_norm())
//     until the trainer logs it.
// Clipping equals torch.nn.utils.clip_grad_norm_(max_norm): grads are scaled
// by min(1, max_norm / (norm + 1e-6)).
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

namespace scalelab::train {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;  // the decay group's; the other group has none
  double max_grad_norm = 0;    // <= 0: no clipping (the norm is still measured)
};

class AdamW {
 public:
  // DECAY get weight decay, NO_DECAY do not (nanoGPT's split: matrices and
  // embeddings decay, norms, biases and gates do not). All on one device.
  AdamW(std::vector<torch::Tensor> decay, std::vector<torch::Tensor> no_decay,
        const AdamWOptions& opt);

  // The lr of the next step(): fills a device scalar (outside any graph).
  void set_lr(double lr);
  // Clips and updates every parameter from its .grad (undefined grads count
  // as zero and leave their parameter's moments untouched, as in PyTorch).
  void step();
  // Drops every .grad (the next backward writes fresh ones).
  void zero_grad();
  // Pre-clip global L2 norm of the gradients of the last step: fp32 device scalar.
  const torch::Tensor& grad_norm() const { return grad_norm_; }
  int64_t steps_taken() const;  // reads the device counter (a host sync)

  // State (moments, step) under "adamw.*" keys; load checks names and shapes.
  void save(torch::serialize::OutputArchive& ar) const;
  void load(torch::serialize::InputArchive& ar);

  const std::vector<torch::Tensor>& params() const { return all_; }

 private:
  struct Group {
    std::vector<torch::Tensor> params, exp_avg, exp_avg_sq;
    double weight_decay = 0;
  };
  void update(Group& g, const std::optional<torch::Tensor>& grad_scale);

  AdamWOptions opt_;
  std::vector<Group> groups_;
  std::vector<torch::Tensor> all_;
  torch::Tensor lr_, step_, grad_norm_;  // fp32 scalars on the parameters' device
};

}  // namespace scalelab::train
