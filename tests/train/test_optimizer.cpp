// The trainer's AdamW (fused multi-tensor kernel, clipping fused in) against
// LibTorch's reference torch::optim::AdamW and clip_grad_norm_, step for step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/optimizer.h"

using scalelab::train::AdamW;
using scalelab::train::AdamWOptions;

namespace {

struct Params {
  torch::Tensor w, b;  // a matrix (decays) and a vector (does not)
};

Params make_params(uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({17, 9}).requires_grad_(), torch::randn({9}).requires_grad_()};
}

void set_grads(Params& p, int step) {
  torch::manual_seed(1000 + step);
  p.w.mutable_grad() = torch::randn_like(p.w) * (1 + step % 3);
  p.b.mutable_grad() = torch::randn_like(p.b) * 0.1;
}

double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

AdamWOptions options(double clip) {
  AdamWOptions o;
  o.lr = 1e-2;
  o.beta1 = 0.9;
  o.beta2 = 0.95;
  o.eps = 1e-8;
  o.weight_decay = 0.1;
  o.max_grad_norm = clip;
  return o;
}

// The reference: two param groups (decay / none), clip_grad_norm_ first.
void reference_steps(Params& p, int steps, double clip, const std::vector<double>& lrs,
                     std::vector<double>* norms) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto wd = std::make_unique<torch::optim::AdamWOptions>(1e-2);
  wd->betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1);
  auto none = std::make_unique<torch::optim::AdamWOptions>(1e-2);
  none->betas({0.9, 0.95}).eps(1e-8).weight_decay(0.0);
  groups.emplace_back(std::vector<torch::Tensor>{p.w}, std::move(wd));
  groups.emplace_back(std::vector<torch::Tensor>{p.b}, std::move(none));
  torch::optim::AdamW opt(std::move(groups));
  for (int i = 0; i < steps; ++i) {
    for (auto& g : opt.param_groups()) g.options().set_lr(lrs[i]);
    set_grads(p, i);
    const double n = torch::nn::utils::clip_grad_norm_(std::vector<torch::Tensor>{p.w, p.b},
                                                       clip > 0 ? clip : 1e30);
    if (norms) norms->push_back(n);
    opt.step();
  }
}

std::vector<double> lrs(int steps) {
  std::vector<double> v;
  for (int i = 0; i < steps; ++i) v.push_back(1e-2 * (1.0 + 0.5 * std::sin(i)));
  return v;
}

}  // namespace

TEST(AdamW, EqualsLibTorchAdamWStepForStep) {
  const int steps = 30;
  Params ref = make_params(1), ours = make_params(1);
  reference_steps(ref, steps, 0, lrs(steps), nullptr);
  AdamW opt({ours.w}, {ours.b}, options(0));
  for (int i = 0; i < steps; ++i) {
    opt.set_lr(lrs(steps)[i]);
    set_grads(ours, i);
    opt.step();
  }
  EXPECT_LT(max_rel(ours.w, ref.w), 1e-6);
  EXPECT_LT(max_rel(ours.b, ref.b), 1e-6);
  EXPECT_EQ(opt.steps_taken(), steps);
}

TEST(AdamW, FusedClippingEqualsClipGradNormAndRecordsTheNorm) {
  const int steps = 12;
  Params ref = make_params(2), ours = make_params(2);
  std::vector<double> ref_norms;
  reference_steps(ref, steps, 0.5, lrs(steps), &ref_norms);
  AdamW opt({ours.w}, {ours.b}, options(0.5));
  for (int i = 0; i < steps; ++i) {
    opt.set_lr(lrs(steps)[i]);
    set_grads(ours, i);
    opt.step();
    EXPECT_NEAR(opt.grad_norm().item<double>(), ref_norms[i], 1e-5 * ref_norms[i]) << "step " << i;
  }
  // Every step was clipped (the gradients' norms are far above 0.5).
  for (double n : ref_norms) EXPECT_GT(n, 2.0);
  EXPECT_LT(max_rel(ours.w, ref.w), 1e-6);
  EXPECT_LT(max_rel(ours.b, ref.b), 1e-6);
}

TEST(AdamW, StateRoundTripsThroughAnArchive) {
  Params a = make_params(3), b = make_params(3);
  AdamW oa({a.w}, {a.b}, options(1.0));
  for (int i = 0; i < 5; ++i) {
    set_grads(a, i);
    oa.step();
  }
  torch::serialize::OutputArchive out;
  oa.save(out);
  std::stringstream buf;
  out.save_to(buf);
  {
    torch::NoGradGuard ng;
    b.w.copy_(a.w);
    b.b.copy_(a.b);
  }
  AdamW ob({b.w}, {b.b}, options(1.0));
  torch::serialize::InputArchive in;
  in.load_from(buf);
  ob.load(in);
  EXPECT_EQ(ob.steps_taken(), 5);
  for (int i = 5; i < 9; ++i) {
    set_grads(a, i);
    set_grads(b, i);
    oa.step();
    ob.step();
  }
  EXPECT_TRUE(torch::equal(a.w, b.w));
  EXPECT_TRUE(torch::equal(a.b, b.b));
}

TEST(AdamW, ParametersWithoutGradientsAreLeftAlone) {
  Params p = make_params(4);
  const auto before = p.b.detach().clone();
  AdamW opt({p.w}, {p.b}, options(1.0));
  set_grads(p, 0);
  p.b.mutable_grad().reset();
  opt.step();
  EXPECT_TRUE(torch::equal(p.b, before));
  EXPECT_FALSE(torch::equal(p.w, make_params(4).w));
  opt.zero_grad();
  EXPECT_FALSE(p.w.grad().defined());
}
