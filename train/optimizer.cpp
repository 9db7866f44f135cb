#include "train/optimizer.h"

#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/_fused_adamw.h>

#include <stdexcept>
#include <string>

namespace scalelab::train {

AdamW::AdamW(std::vector<torch::Tensor> decay, std::vector<torch::Tensor> no_decay,
             const AdamWOptions& opt)
    : opt_(opt) {
  for (auto* list : {&decay, &no_decay}) {
    Group g;
    g.weight_decay = list == &decay ? opt.weight_decay : 0.0;
    for (auto& p : *list) {
      TORCH_CHECK(p.scalar_type() == torch::kFloat32, "AdamW: parameters must be fp32 master weights");
      g.params.push_back(p);
      g.exp_avg.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      g.exp_avg_sq.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      all_.push_back(p);
    }
    if (!g.params.empty()) groups_.push_back(std::move(g));
  }
  TORCH_CHECK(!all_.empty(), "AdamW: no parameters");
  auto o = torch::TensorOptions().dtype(torch::kFloat32).device(all_[0].device());
  lr_ = torch::full({}, opt.lr, o);
  step_ = torch::zeros({}, o);
  grad_norm_ = torch::zeros({}, o);
}

void AdamW::set_lr(double lr) { lr_.fill_(lr); }

void AdamW::update(Group& g, const std::optional<torch::Tensor>& grad_scale) {
  std::vector<torch::Tensor> params, grads, m, v;
  for (size_t i = 0; i < g.params.size(); ++i) {
    const auto& grad = g.params[i].grad();
    if (!grad.defined()) continue;
    params.push_back(g.params[i]);
    grads.push_back(grad);
    m.push_back(g.exp_avg[i]);
    v.push_back(g.exp_avg_sq[i]);
  }
  if (params.empty()) return;
  // One shared step counter (every parameter steps together); the kernel
  // reads it per tensor.
  const std::vector<torch::Tensor> steps(params.size(), step_);
  at::_fused_adamw_(params, grads, m, v, /*max_exp_avg_sqs=*/{}, steps, lr_, opt_.beta1,
                    opt_.beta2, g.weight_decay, opt_.eps, /*amsgrad=*/false, /*maximize=*/false,
                    grad_scale, /*found_inf=*/std::nullopt);
}

void AdamW::step() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (auto& p : all_)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return;
  auto norms = at::_foreach_norm(grads, 2);
  grad_norm_.copy_(at::linalg_vector_norm(at::stack(norms), 2));
  std::optional<torch::Tensor> scale;
  if (opt_.max_grad_norm > 0) scale = ((grad_norm_ + 1e-6) / opt_.max_grad_norm).clamp_min(1.0);
  step_.add_(1);
  for (auto& g : groups_) update(g, scale);
}

void AdamW::zero_grad() {
  for (auto& p : all_) p.mutable_grad().reset();
}

int64_t AdamW::steps_taken() const { return static_cast<int64_t>(step_.item<double>()); }

void AdamW::save(torch::serialize::OutputArchive& ar) const {
  ar.write("adamw.step", step_.cpu());
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const std::string key = "adamw." + std::to_string(gi) + "." + std::to_string(i);
      ar.write(key + ".exp_avg", groups_[gi].exp_avg[i]);
      ar.write(key + ".exp_avg_sq", groups_[gi].exp_avg_sq[i]);
    }
}

void AdamW::load(torch::serialize::InputArchive& ar) {
  torch::NoGradGuard no_grad;
  torch::Tensor t;
  if (!ar.try_read("adamw.step", t))
    throw std::runtime_error("no AdamW state (written by an older scalelab?)");
  step_.copy_(t);
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const std::string key = "adamw." + std::to_string(gi) + "." + std::to_string(i);
      for (auto [name, dst] : {std::pair{".exp_avg", &groups_[gi].exp_avg[i]},
                               std::pair{".exp_avg_sq", &groups_[gi].exp_avg_sq[i]}}) {
        if (!ar.try_read(key + name, t) || t.sizes() != dst->sizes())
          throw std::runtime_error("AdamW state " + key + name + " is missing or has another shape");
        dst->copy_(t);
      }
    }
}

}  // namespace scalelab::train
