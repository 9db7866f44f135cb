// CPU ground truth of the fused training ops (kernels/rms_norm, swiglu, rope,
// cross_entropy, causal_conv1d, ssd_inputs, hgrn2_gates, Lightning's
// scalar_decay_chunked_silu_qkv): each reference against an independent statement of its
// maths, in fp64. The CUDA kernels are checked against these references in
// tests/kernels_cuda/test_cuda_fused_ops.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "kernels/causal_conv1d/op.h"
#include "kernels/cross_entropy/op.h"
#include "kernels/hgrn2_gates/op.h"
#include "kernels/rms_norm/op.h"
#include "kernels/rope/op.h"
#include "kernels/scalar_decay/op.h"
#include "kernels/ssd_inputs/op.h"
#include "kernels/swiglu/op.h"

namespace k = scalelab::kernels;

namespace {
auto f64() { return torch::dtype(torch::kFloat64); }
double max_abs(const torch::Tensor& a) { return a.abs().max().item<double>(); }
}  // namespace

TEST(FusedOpsReference, RmsNormIsTheFormulaAndKeepsTheAskedDtype) {
  torch::manual_seed(0);
  auto x = torch::randn({3, 5, 24}, f64()), w = torch::randn({24}, f64());
  auto want = x / torch::sqrt((x * x).mean(-1, true) + 1e-5) * w;
  EXPECT_LT(max_abs(k::rms_norm(x, w, 1e-5) - want), 1e-12);
  auto xf = x.to(torch::kFloat32);
  EXPECT_EQ(k::rms_norm(xf, w.to(torch::kFloat32), 1e-5, torch::kBFloat16).scalar_type(),
            torch::kBFloat16);
  EXPECT_THROW(k::rms_norm(x, torch::ones({23}, f64()), 1e-5), c10::Error);
}

TEST(FusedOpsReference, SwigluIsSiluOfTheGateTimesTheUpHalf) {
  torch::manual_seed(1);
  auto h = torch::randn({4, 7, 16}, f64());
  auto a = h.narrow(-1, 0, 8), b = h.narrow(-1, 8, 8);
  EXPECT_LT(max_abs(k::swiglu(h) - a / (1 + torch::exp(-a)) * b), 1e-12);
  EXPECT_THROW(k::swiglu(torch::randn({2, 3}, f64())), c10::Error);
}

// RoPE rotates pairs, so it keeps norms, and q.k then depends on positions
// only through their difference.
TEST(FusedOpsReference, RopeIsARotationByRelativePosition) {
  torch::manual_seed(2);
  const int64_t heads = 2, kv = 1, hd = 8;
  auto qkv = torch::randn({1, 6, heads + 2 * kv, hd}, f64());
  auto a = k::rope_qkv(qkv, heads, kv, 0), b = k::rope_qkv(qkv, heads, kv, 37);
  auto norms = [](const torch::Tensor& t) { return t.pow(2).sum(-1); };
  EXPECT_LT(max_abs(norms(a.q) - norms(qkv.narrow(2, 0, heads))), 1e-5);
  auto dots = [&](const k::Qkv& r) {
    return torch::einsum("bthd,bshd->bhts", {r.q, r.k.expand({1, 6, heads, hd})});
  };
  EXPECT_LT(max_abs(dots(a) - dots(b)), 1e-4);  // angles are fp32
  EXPECT_TRUE(torch::equal(a.v, qkv.narrow(2, heads + kv, kv)));
  // Position 0 is the identity.
  EXPECT_LT(max_abs(a.q.select(1, 0) - qkv.select(1, 0).narrow(1, 0, heads)), 1e-12);
}

TEST(FusedOpsReference, LinearCrossEntropyIsMeanNegativeLogSoftmax) {
  torch::manual_seed(3);
  auto h = torch::randn({10, 6}, f64()), w = torch::randn({9, 6}, f64());
  auto y = torch::randint(0, 9, {10}, torch::kInt64);
  auto logp = torch::log_softmax(h.matmul(w.t()), -1);
  auto want = -logp.gather(1, y.unsqueeze(1)).mean();
  EXPECT_LT(std::abs((k::linear_cross_entropy(h, w, y) - want).item<double>()), 1e-12);
  EXPECT_EQ(k::cross_entropy_chunk_rows(100000, 32000), 4194);  // 256 MiB of bf16 logits
  EXPECT_THROW(k::linear_cross_entropy(h, w, y.narrow(0, 0, 9)), c10::Error);
}

TEST(FusedOpsReference, CausalConvIsTheShiftedSum) {
  torch::manual_seed(4);
  auto x = torch::randn({2, 9, 16}, f64()), w = torch::randn({16, 4}, f64()), b = torch::randn({16}, f64());
  auto y = k::causal_conv1d(x, w, b, false);
  auto want = b.view({1, 1, 16}).expand({2, 9, 16}).clone();
  for (int64_t t = 0; t < 9; ++t)
    for (int64_t j = 0; j < 4; ++j) {
      const int64_t s = t - 3 + j;
      if (s >= 0) want.select(1, t) += w.select(1, j) * x.select(1, s);
    }
  EXPECT_LT(max_abs(y - want), 1e-12);
  EXPECT_LT(max_abs(k::causal_conv1d(x, w, b, true) - want * torch::sigmoid(want)), 1e-12);
  // Strided input (a view of a wider projection) gives the same result.
  auto wide = torch::randn({2, 9, 40}, f64());
  wide.narrow(2, 8, 16).copy_(x);
  EXPECT_LT(max_abs(k::causal_conv1d(wide.narrow(2, 8, 16), w, b, false) - want), 1e-12);
}

TEST(FusedOpsReference, GatedRmsNormGatesBeforeOrAfterAndAddsTheSkip) {
  torch::manual_seed(5);
  auto x = torch::randn({3, 16}, f64()), g = torch::randn({3, 16}, f64()), w = torch::randn({16}, f64());
  auto norm = [&](const torch::Tensor& u) { return u / torch::sqrt((u * u).mean(-1, true) + 1e-5) * w; };
  auto silu = [](const torch::Tensor& t) { return t * torch::sigmoid(t); };
  EXPECT_LT(max_abs(k::gated_rms_norm(x, g, w, 1e-5, k::Gate::SigmoidAfter) - norm(x) * torch::sigmoid(g)), 1e-12);
  EXPECT_LT(max_abs(k::gated_rms_norm(x, g, w, 1e-5, k::Gate::SiluAfter) - norm(x) * silu(g)), 1e-12);
  EXPECT_LT(max_abs(k::gated_rms_norm(x, g, w, 1e-5, k::Gate::SiluBefore) - norm(x * silu(g))), 1e-12);
  auto v = torch::randn({3, 16}, f64()), D = torch::tensor({0.5, -2.0}, f64());
  auto u = x + v * torch::cat({D[0].expand({8}), D[1].expand({8})});
  EXPECT_LT(max_abs(k::gated_rms_norm(x, g, w, 1e-5, k::Gate::SiluBefore, v, D) - norm(u * silu(g))), 1e-12);
}

TEST(FusedOpsReference, SsdInputsShareBAndCAcrossHeads) {
  torch::manual_seed(6);
  const int64_t H = 3, P = 4, N = 5;
  auto xbc = torch::randn({2, 7, H * P + 2 * N}, f64()), dt = torch::randn({2, 7, H}, f64());
  auto bias = torch::randn({H}, f64()), alog = torch::randn({H}, f64());
  auto r = k::ssd_inputs(xbc, dt, bias, alog, H, P, N);
  auto dth = torch::log1p(torch::exp(dt + bias));
  for (int64_t h = 0; h < H; ++h) {
    EXPECT_TRUE(torch::equal(r.q.select(2, h), xbc.narrow(2, H * P + N, N)));
    EXPECT_LT(max_abs(r.k.select(2, h) - xbc.narrow(2, H * P, N) * dth.select(2, h).unsqueeze(-1)), 1e-12);
    EXPECT_TRUE(torch::equal(r.v.select(2, h), xbc.narrow(2, h * P, P)));
    EXPECT_LT(max_abs(r.g.select(2, h) + torch::exp(alog[h]) * dth.select(2, h)), 1e-12);
  }
}

TEST(FusedOpsReference, Hgrn2GatesWithAndWithoutALowerBound) {
  torch::manual_seed(7);
  auto h = torch::randn({2, 5, 24}, f64()), lb = torch::rand({8}, f64());
  auto qt = h.narrow(-1, 0, 8), ft = h.narrow(-1, 8, 8), i = h.narrow(-1, 16, 8);
  auto s = torch::sigmoid(ft);
  auto a = k::hgrn2_gates(h, {}), b = k::hgrn2_gates(h, lb);
  EXPECT_LT(max_abs(a.q - qt * torch::sigmoid(qt)), 1e-12);
  EXPECT_TRUE(torch::equal(a.v, i));
  EXPECT_LT(max_abs(a.g - torch::log(s)), 1e-12);
  EXPECT_LT(max_abs(a.k - (1 - s)), 1e-12);
  EXPECT_LT(max_abs(b.g - torch::log(lb + (1 - lb) * s)), 1e-12);
  EXPECT_LT(max_abs(b.k - (1 - lb) * (1 - s)), 1e-12);
}

// Lightning's packed form: silu of h's three column blocks as q, k, v, then
// the scalar-decay recurrence (an fp64 naive statement, gradients included).
TEST(FusedOpsReference, ScalarDecaySiluQkvIsSiluThenTheRecurrence) {
  torch::manual_seed(8);
  const int64_t B = 2, T = 70, H = 2, D = 4;
  auto h = torch::randn({B, T, 3 * H * D}, f64()).requires_grad_(true);
  auto g = (-torch::rand({B, T, H}, f64())).requires_grad_(true);
  k::LinearAttnOptions opt;
  opt.scale = 1.0;
  auto r = k::scalar_decay_chunked_silu_qkv(h, H, g, {}, opt);
  auto part = [&](int i) { return torch::silu(h.narrow(2, i * H * D, H * D)).view({B, T, H, D}); };
  auto ref = k::scalar_decay_recurrent(part(0), part(1), part(2), g, {}, opt);
  EXPECT_LT(max_abs(r.o - ref.o), 1e-10);
  EXPECT_LT(max_abs(r.final_state - ref.final_state), 1e-10);
  auto w = torch::randn(r.o.sizes(), f64());
  auto ga = torch::autograd::grad({(r.o * w).sum()}, {h, g});
  auto gb = torch::autograd::grad({(ref.o * w).sum()}, {h, g});
  EXPECT_LT(max_abs(ga[0] - gb[0]), 1e-10);
  EXPECT_LT(max_abs(ga[1] - gb[1]), 1e-10);
  try {
    k::scalar_decay_chunked_silu_qkv(torch::zeros({1, 3, 20}, f64()), 3, g, {}, opt);
    ADD_FAILURE() << "a width that is not 3 * heads * D was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("3 * heads * D"), std::string::npos);
  }
}
