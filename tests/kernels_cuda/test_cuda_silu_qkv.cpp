// Device tests of scalar_decay_chunked_silu_qkv, Lightning's packed form
// whose kernels apply the SiLU as they load q, k, v from h and fold its
// derivative into the gradient stores: against split_silu followed by the
// unfused kernels (the same bf16 roundings, so within 1e-3 relative RMS) and
// against the fp32 reference (5e-3, as the other kernel tests); outputs,
// final state, dh, dg, dh0; packed sequences; bitwise run-to-run.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "kernels/scalar_decay/cuda.h"
#include "kernels/scalar_decay/op.h"
#include "kernels/split_silu/op.h"

namespace sk = scalelab::kernels;

namespace {

struct Case {
  int64_t B, T, H, D;
  bool h0;
  std::vector<int64_t> offsets;  // packed sequences when not empty (B == 1)
};

std::string name(const Case& c) {
  return "B" + std::to_string(c.B) + "_T" + std::to_string(c.T) + "_H" + std::to_string(c.H) +
         "_D" + std::to_string(c.D) + (c.h0 ? "_h0" : "") + (c.offsets.empty() ? "" : "_varlen");
}

double rel_rms(const torch::Tensor& a, const torch::Tensor& ref) {
  auto r = ref.to(torch::kFloat64);
  const double den = r.norm().item<double>();
  const double num = (a.to(torch::kFloat64) - r).norm().item<double>();
  return den == 0 ? num : num / den;
}

using Fn = std::function<sk::LinearAttnResult(const torch::Tensor&, const torch::Tensor&,
                                              const torch::Tensor&, const sk::LinearAttnOptions&)>;

// o, final state, dh, dg, (dh0) of FN on leaf copies of h (in DTYPE), g, h0,
// back-propagating one fixed random projection of (o, final state).
std::vector<torch::Tensor> run(const Case& c, torch::ScalarType dtype, const Fn& fn) {
  torch::manual_seed(11 + c.T + c.D);
  auto bf = torch::dtype(torch::kBFloat16).device(torch::kCUDA);
  auto f32 = torch::dtype(torch::kFloat32).device(torch::kCUDA);
  const int64_t n_states = c.offsets.empty() ? c.B : static_cast<int64_t>(c.offsets.size()) - 1;
  auto h = torch::randn({c.B, c.T, 3 * c.H * c.D}, bf).to(dtype).requires_grad_(true);
  auto g = (-0.3 * torch::sigmoid(torch::randn({c.B, c.T, c.H}, f32) * 2)).requires_grad_(true);
  torch::Tensor h0;
  if (c.h0) h0 = (torch::randn({n_states, c.H, c.D, c.D}, f32) * 0.5).requires_grad_(true);
  sk::LinearAttnOptions opt;
  opt.scale = 1.0;  // Lightning's
  if (!c.offsets.empty()) opt.cu_seqlens = torch::tensor(c.offsets, torch::kInt32).to(torch::kCUDA);
  auto r = fn(h, g, h0, opt);
  torch::manual_seed(5);
  auto wo = torch::randn(r.o.sizes(), f32), ws = torch::randn(r.final_state.sizes(), f32);
  auto loss = (r.o.to(torch::kFloat32) * wo).sum() + (r.final_state * ws).sum();
  std::vector<torch::Tensor> leaves = {h, g};
  if (c.h0) leaves.push_back(h0);
  auto grads = torch::autograd::grad({loss}, leaves);
  std::vector<torch::Tensor> out = {r.o.detach(), r.final_state.detach()};
  for (auto& t : grads) out.push_back(t.detach());
  return out;
}

const char* kNames[] = {"o", "final state", "dh", "dg", "dh0"};

void expect_close(const std::vector<torch::Tensor>& got, const std::vector<torch::Tensor>& ref,
                  double tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = rel_rms(got[i], ref[i]);
    EXPECT_LT(e, tol) << what << ": " << kNames[i];
    worst = std::max(worst, e);
  }
  std::printf("%-36s worst rel RMS %.2e\n", what.c_str(), worst);
}

std::vector<int64_t> split3(const Case& c) { return std::vector<int64_t>(3, c.H * c.D); }

sk::LinearAttnResult unfused(const Case& c, const torch::Tensor& h, const torch::Tensor& g,
                             const torch::Tensor& h0, const sk::LinearAttnOptions& opt,
                             bool reference) {
  auto parts = reference ? sk::split_silu_reference(h, split3(c)) : sk::split_silu(h, split3(c));
  auto head = [&](const torch::Tensor& p) { return p.reshape({c.B, c.T, c.H, c.D}); };
  return reference ? sk::scalar_decay_recurrent(head(parts[0]), head(parts[1]), head(parts[2]),
                                                g, h0, opt)
                   : sk::cuda_scalar_decay_chunked(head(parts[0]), head(parts[1]),
                                                   head(parts[2]), g, h0, opt);
}

TEST(CudaSiluQkv, MatchesSplitSiluThenKernelsAndTheReference) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::vector<Case> cases = {
      {2, 1, 3, 64, true, {}},      {2, 65, 3, 64, false, {}},  {2, 1000, 3, 64, true, {}},
      {1, 4096, 2, 128, false, {}}, {2, 300, 2, 128, true, {}},
      {1, 1300, 2, 64, true, {0, 100, 100, 101, 1000, 1065, 1300}}};
  for (const Case& c : cases) {
    auto fused = [&](const torch::Tensor& h, const torch::Tensor& g, const torch::Tensor& h0,
                     const sk::LinearAttnOptions& opt) {
      return sk::scalar_decay_chunked_silu_qkv(h, c.H, g, h0, opt);
    };
    auto split = [&](const torch::Tensor& h, const torch::Tensor& g, const torch::Tensor& h0,
                     const sk::LinearAttnOptions& opt) { return unfused(c, h, g, h0, opt, false); };
    auto ref = [&](const torch::Tensor& h, const torch::Tensor& g, const torch::Tensor& h0,
                   const sk::LinearAttnOptions& opt) { return unfused(c, h, g, h0, opt, true); };
    const auto got = run(c, torch::kBFloat16, fused);
    expect_close(got, run(c, torch::kBFloat16, split), 1e-3, name(c) + " vs split_silu");
    expect_close(got, run(c, torch::kFloat32, ref), 5e-3, name(c) + " vs reference");
    const auto again = run(c, torch::kBFloat16, fused);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(torch::equal(got[i], again[i])) << name(c) << ": " << kNames[i] << " run to run";
  }
}

}  // namespace
