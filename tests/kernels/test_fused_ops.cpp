// CPU ground truth of the fused training ops (kernels/rms_norm, swiglu, rope,
// cross_entropy): each reference against an independent statement of its
// maths, in fp64. The CUDA kernels are checked against these references in
// tests/kernels_cuda/test_cuda_fused_ops.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "kernels/cross_entropy/op.h"
#include "kernels/rms_norm/op.h"
#include "kernels/rope/op.h"
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
