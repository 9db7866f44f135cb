// Device tests of the fused training ops' CUDA kernels (kernels/rms_norm,
// swiglu, rope, cross_entropy, split_silu, ...) against their LibTorch references on the same
// inputs: outputs and every gradient, relative RMS error within the bf16
// rounding of one op (1e-2 for bf16 results, 1e-4 for fp32 ones), shapes with
// row counts that fill no block exactly; plus run-to-run determinism of the
// reductions. Skipped where no GPU is present (CI).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "kernels/causal_conv1d/op.h"
#include "kernels/cross_entropy/op.h"
#include "kernels/hgrn2_gates/op.h"
#include "kernels/rms_norm/op.h"
#include "kernels/rope/op.h"
#include "kernels/split_silu/op.h"
#include "kernels/ssd_inputs/op.h"
#include "kernels/swiglu/op.h"

namespace k = scalelab::kernels;

namespace {

bool have_gpu() { return torch::cuda::is_available(); }

double rel_rms(const torch::Tensor& a, const torch::Tensor& ref) {
  auto r = ref.to(torch::kFloat64);
  const double den = r.norm().item<double>();
  const double num = (a.to(torch::kFloat64) - r).norm().item<double>();
  return den == 0 ? num : num / den;
}

void expect_rel(const char* what, const torch::Tensor& got, const torch::Tensor& ref, double tol) {
  ASSERT_EQ(got.sizes(), ref.sizes()) << what;
  EXPECT_TRUE(torch::isfinite(got).all().item<bool>()) << what << ": non-finite values";
  const double e = rel_rms(got, ref);
  std::printf("  %-28s rel rms %.2e\n", what, e);
  EXPECT_LT(e, tol) << what;
}

auto cuda(torch::ScalarType t) { return torch::dtype(t).device(torch::kCUDA); }

// Output and gradients of F on a leaf copy of each input.
template <class F>
std::vector<torch::Tensor> run(F f, std::vector<torch::Tensor> in, const torch::Tensor& dy) {
  for (auto& t : in) t = t.detach().clone().requires_grad_(true);
  auto y = f(in);
  y.backward(dy);
  std::vector<torch::Tensor> out{y.detach()};
  for (auto& t : in) out.push_back(t.grad());
  return out;
}

}  // namespace

TEST(CudaFusedOps, RmsNormMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  // 64, 96: several rows per warp (columns.cuh); 384: a part-filled column span.
  for (int64_t d : {64, 96, 384, 768, 2048}) {
    for (auto [xt, yt] : {std::pair{torch::kFloat32, torch::kBFloat16},
                          std::pair{torch::kBFloat16, torch::kBFloat16},
                          std::pair{torch::kFloat32, torch::kFloat32}}) {
      std::printf("rms_norm d %ld x %s y %s\n", static_cast<long>(d), c10::toString(xt),
                  c10::toString(yt));
      torch::manual_seed(d);
      auto x = torch::randn({3, 333, d}, cuda(xt));
      auto w = 1 + 0.1 * torch::randn({d}, cuda(torch::kFloat32));
      auto dy = torch::randn({3, 333, d}, cuda(yt));
      auto fused = run([&](auto& v) { return k::rms_norm(v[0], v[1], 1e-5, yt); }, {x, w}, dy);
      auto ref = run([&](auto& v) { return k::rms_norm_reference(v[0], v[1], 1e-5, yt); }, {x, w}, dy);
      const double tol = yt == torch::kBFloat16 || xt == torch::kBFloat16 ? 1e-2 : 1e-4;
      expect_rel("y", fused[0], ref[0], tol);
      expect_rel("dx", fused[1], ref[1], tol);
      expect_rel("dweight", fused[2], ref[2], xt == torch::kBFloat16 ? 1e-2 : 1e-4);
      auto again = run([&](auto& v) { return k::rms_norm(v[0], v[1], 1e-5, yt); }, {x, w}, dy);
      EXPECT_TRUE(torch::equal(fused[2], again[2])) << "weight gradient is not deterministic";
    }
  }
}

TEST(CudaFusedOps, SwigluMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (int64_t f : {1024, 2048 + 8}) {
    torch::manual_seed(f);
    auto h = torch::randn({2, 777, 2 * f}, cuda(torch::kBFloat16));
    auto dy = torch::randn({2, 777, f}, cuda(torch::kBFloat16));
    auto fused = run([](auto& v) { return k::swiglu(v[0]); }, {h}, dy);
    // fp32 reference on the same bf16 inputs.
    auto ref = run([](auto& v) { return k::swiglu_reference(v[0].to(torch::kFloat32)); }, {h}, dy);
    std::printf("swiglu f %ld\n", static_cast<long>(f));
    expect_rel("y", fused[0], ref[0], 1e-2);
    expect_rel("dh", fused[1], ref[1], 1e-2);
  }
}

TEST(CudaFusedOps, SplitSiluMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::vector<std::vector<int64_t>> cases{{768, 768, 768}, {64, 136, 8, 24}, {200}};
  for (auto dt : {torch::kBFloat16, torch::kFloat32}) {
    for (const auto& sizes : cases) {
      int64_t n = 0;
      for (int64_t s : sizes) n += s;
      std::printf("split_silu %s n %ld parts %zu\n", c10::toString(dt), static_cast<long>(n),
                  sizes.size());
      torch::manual_seed(n);
      auto h = 3 * torch::randn({2, 333, n}, cuda(dt));
      std::vector<torch::Tensor> dys;
      for (int64_t s : sizes) dys.push_back(torch::randn({2, 333, s}, cuda(dt)));
      // The last part gets no gradient (when there are several): zeros there.
      const size_t with_grad = sizes.size() > 1 ? sizes.size() - 1 : 1;
      auto go = [&](bool fused) {
        auto in = h.detach().clone().requires_grad_(true);
        auto parts = fused ? k::split_silu(in, sizes)
                           : k::split_silu_reference(in.to(torch::kFloat32), sizes);
        std::vector<torch::Tensor> outs(parts.begin(), parts.begin() + with_grad),
            grads(dys.begin(), dys.begin() + with_grad);
        torch::autograd::backward(outs, grads);
        for (auto& p : parts) p = p.detach();
        parts.push_back(in.grad());
        return parts;
      };
      auto fused = go(true), ref = go(false);
      const double tol = dt == torch::kBFloat16 ? 1e-2 : 1e-4;
      for (size_t i = 0; i < sizes.size(); ++i) {
        EXPECT_TRUE(fused[i].is_contiguous()) << "part " << i;
        expect_rel("y part", fused[i], ref[i], tol);
      }
      expect_rel("dh", fused.back(), ref.back(), tol);
      if (sizes.size() > 1) {
        auto tail = fused.back().narrow(-1, n - sizes.back(), sizes.back());
        EXPECT_EQ(tail.abs().max().item<double>(), 0.0) << "a part without a gradient";
      }
    }
  }
}

TEST(CudaFusedOps, RopeMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (auto [heads, kv, hd, pos0] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{12, 12, 64, 0},
                                     {16, 4, 128, 0},
                                     {6, 2, 64, 1000}}) {
    std::printf("rope heads %ld kv %ld hd %ld pos0 %ld\n", static_cast<long>(heads),
                static_cast<long>(kv), static_cast<long>(hd), static_cast<long>(pos0));
    torch::manual_seed(heads * hd);
    auto qkv = torch::randn({2, 301, heads + 2 * kv, hd}, cuda(torch::kBFloat16));
    auto dq = torch::randn({2, 301, heads, hd}, cuda(torch::kBFloat16));
    auto dk = torch::randn({2, 301, kv, hd}, cuda(torch::kBFloat16));
    auto dv = torch::randn({2, 301, kv, hd}, cuda(torch::kBFloat16));
    auto go = [&](auto op, bool upcast) {
      auto in = qkv.detach().clone().requires_grad_(true);
      auto r = op(upcast ? in.to(torch::kFloat32) : in);
      torch::autograd::backward({r.q, r.k, r.v}, {dq, dk, dv});
      return std::vector<torch::Tensor>{r.q.detach(), r.k.detach(), r.v.detach(), in.grad()};
    };
    auto fused = go([&](const torch::Tensor& t) { return k::rope_qkv(t, heads, kv, pos0); }, false);
    auto ref = go([&](const torch::Tensor& t) { return k::rope_qkv_reference(t, heads, kv, pos0); },
                  true);
    expect_rel("q", fused[0], ref[0], 1e-2);
    expect_rel("k", fused[1], ref[1], 1e-2);
    EXPECT_TRUE(torch::equal(fused[2], ref[2].to(torch::kBFloat16))) << "v is a copy";
    expect_rel("dqkv", fused[3], ref[3], 1e-2);
  }
}

TEST(CudaFusedOps, LinearCrossEntropyMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (auto [n, vocab, d] : {std::tuple<int64_t, int64_t, int64_t>{3001, 32000, 256},
                             {777, 256, 64}}) {
    std::printf("linear_cross_entropy N %ld V %ld D %ld\n", static_cast<long>(n),
                static_cast<long>(vocab), static_cast<long>(d));
    torch::manual_seed(n);
    auto h = torch::randn({n, d}, cuda(torch::kBFloat16));
    auto w = 0.05 * torch::randn({vocab, d}, cuda(torch::kFloat32));
    auto y = torch::randint(0, vocab, {n}, cuda(torch::kInt64));
    auto one = torch::ones({}, cuda(torch::kFloat32)) * 0.7;  // a micro-batch's share
    // 1 MiB chunks: several chunks, the last one partial.
    auto fused = run([&](auto& v) { return k::linear_cross_entropy(v[0], v[1], y, 1 << 20); },
                     {h, w}, one);
    // The reference on the same bf16 logits (autocast's numerics), loss in fp32.
    auto ref = run(
        [&](auto& v) {
          auto logits = torch::matmul(v[0], v[1].to(torch::kBFloat16).t());
          return torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y);
        },
        {h, w}, one);
    expect_rel("loss", fused[0], ref[0], 1e-4);
    expect_rel("dh", fused[1], ref[1], 1e-2);
    expect_rel("dweight", fused[2], ref[2], 1e-2);
    torch::NoGradGuard ng;
    expect_rel("loss without grad", k::linear_cross_entropy(h, w, y, 1 << 20), ref[0], 1e-4);
  }
}

TEST(CudaFusedOps, AddRmsNormMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (auto at : {torch::kBFloat16, torch::kFloat32}) {
    torch::manual_seed(11);
    auto x = torch::randn({2, 555, 768}, cuda(torch::kFloat32)), a = torch::randn({2, 555, 768}, cuda(at));
    auto w = 1 + 0.1 * torch::randn({768}, cuda(torch::kFloat32));
    auto dh = torch::randn({2, 555, 768}, cuda(torch::kFloat32));
    auto dy = torch::randn({2, 555, 768}, cuda(torch::kBFloat16));
    auto go = [&](bool fused) {
      std::vector<torch::Tensor> in{x.clone().requires_grad_(true), a.clone().requires_grad_(true),
                                    w.clone().requires_grad_(true)};
      auto [h, y] = fused ? k::add_rms_norm(in[0], in[1], in[2], 1e-5, torch::kBFloat16)
                          : std::pair{in[0] + in[1], k::rms_norm_reference(in[0] + in[1], in[2], 1e-5, torch::kBFloat16)};
      torch::autograd::backward({h, y}, {dh, dy});
      return std::vector<torch::Tensor>{h.detach(), y.detach(), in[0].grad(), in[1].grad(), in[2].grad()};
    };
    auto f = go(true), r = go(false);
    std::printf("add_rms_norm a %s\n", c10::toString(at));
    expect_rel("h", f[0], r[0], 1e-6);
    expect_rel("y", f[1], r[1], 1e-2);
    expect_rel("dx", f[2], r[2], 1e-4);
    expect_rel("da", f[3], r[3], at == torch::kBFloat16 ? 1e-2 : 1e-4);
    expect_rel("dweight", f[4], r[4], 1e-4);
  }
}

TEST(CudaFusedOps, GatedRmsNormMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (auto gate : {k::Gate::SigmoidAfter, k::Gate::SiluAfter, k::Gate::SiluBefore}) {
    for (bool skip : {false, true}) {
      for (auto [d, heads] : {std::pair<int64_t, int64_t>{1536, 24}, {200, 8}, {128, 1}}) {
        std::printf("gated_rms_norm d %ld gate %d skip %d\n", static_cast<long>(d),
                    static_cast<int>(gate), skip);
        torch::manual_seed(12);
        auto x = torch::randn({3, 301, d}, cuda(torch::kBFloat16));
        auto wide = torch::randn({3, 301, d + 40}, cuda(torch::kBFloat16));  // g as a strided view
        auto v = skip ? torch::randn({3, 301, d}, cuda(torch::kBFloat16)) : torch::Tensor();
        auto D = skip ? torch::randn({heads}, cuda(torch::kFloat32)) : torch::Tensor();
        auto w = 1 + 0.1 * torch::randn({d}, cuda(torch::kFloat32));
        auto dy = torch::randn({3, 301, d}, cuda(torch::kBFloat16));
        auto go = [&](bool fused) {
          auto xi = x.clone().requires_grad_(true), wi = wide.clone().requires_grad_(true);
          auto w1 = w.clone().requires_grad_(true);
          auto vi = skip ? v.clone().requires_grad_(true) : torch::Tensor();
          auto Di = skip ? D.clone().requires_grad_(true) : torch::Tensor();
          auto g = wi.narrow(2, 40, d);
          auto y = fused ? k::gated_rms_norm(xi, g, w1, 1e-5, gate, vi, Di, torch::kBFloat16)
                         : k::gated_rms_norm_reference(xi, g, w1, 1e-5, gate, vi, Di,
                                                       torch::kBFloat16);
          y.backward(dy);
          std::vector<torch::Tensor> out{y.detach(), xi.grad(), wi.grad(), w1.grad()};
          if (skip) {
            out.push_back(vi.grad());
            out.push_back(Di.grad());
          }
          return out;
        };
        auto f = go(true), r = go(false);
        const char* names[] = {"y", "dx", "dg", "dweight", "dv", "dD"};
        for (size_t i = 0; i < f.size(); ++i) expect_rel(names[i], f[i], r[i], 1e-2);
      }
    }
  }
}

TEST(CudaFusedOps, CausalConvMatchesReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  // 1664 channels fill whole warps of 4-channel threads; 200 leave one part-empty.
  for (int64_t c : {1664, 200}) {
    for (int64_t width : {2, 4}) {
      for (bool silu : {false, true}) {
        std::printf("causal_conv1d C %ld W %ld silu %d\n", static_cast<long>(c),
                    static_cast<long>(width), silu);
        torch::manual_seed(13);
        auto wide = torch::randn({3, 333, c + 96}, cuda(torch::kBFloat16));  // x: a strided view
        auto w = 0.5 * torch::randn({c, width}, cuda(torch::kFloat32));
        auto b = 0.1 * torch::randn({c}, cuda(torch::kFloat32));
        auto dy = torch::randn({3, 333, c}, cuda(torch::kBFloat16));
        auto go = [&](bool fused) {
          auto xi = wide.clone().requires_grad_(true), wi = w.clone().requires_grad_(true),
               bi = b.clone().requires_grad_(true);
          auto x = xi.narrow(2, 32, c);
          auto y = fused ? k::causal_conv1d(x, wi, bi, silu)
                         : k::causal_conv1d_reference(x.to(torch::kFloat32), wi, bi, silu);
          y.backward(dy.to(y.scalar_type()));
          return std::vector<torch::Tensor>{y.detach(), xi.grad(), wi.grad(), bi.grad()};
        };
        auto f = go(true), r = go(false);
        expect_rel("y", f[0], r[0], 1e-2);
        expect_rel("dx", f[1], r[1], 1e-2);
        expect_rel("dweight", f[2], r[2], 1e-3);
        expect_rel("dbias", f[3], r[3], 1e-3);
      }
    }
  }
}

TEST(CudaFusedOps, SsdInputsMatchReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(14);
  const int64_t H = 24, P = 64, N = 64;
  auto wide = torch::randn({2, 300, 2 * H * P + 2 * N + H}, cuda(torch::kBFloat16));
  auto bias = torch::randn({H}, cuda(torch::kFloat32)), alog = torch::rand({H}, cuda(torch::kFloat32));
  auto go = [&](bool fused) {
    auto wi = wide.clone().requires_grad_(true), bi = bias.clone().requires_grad_(true),
         ai = alog.clone().requires_grad_(true);
    auto xbc = wi.narrow(2, H * P, H * P + 2 * N), dt = wi.narrow(2, 2 * H * P + 2 * N, H);
    auto r = fused ? k::ssd_inputs(xbc, dt, bi, ai, H, P, N)
                   : k::ssd_inputs_reference(xbc, dt, bi, ai, H, P, N);
    torch::manual_seed(15);
    auto outs = std::vector<torch::Tensor>{r.q, r.k, r.v, r.g};
    std::vector<torch::Tensor> gs;
    for (auto& o : outs) gs.push_back(torch::randn_like(o));
    torch::autograd::backward(outs, gs);
    return std::vector<torch::Tensor>{r.q.detach(), r.k.detach(), r.v.detach(), r.g.detach(),
                                      wi.grad(), bi.grad(), ai.grad()};
  };
  auto f = go(true), r = go(false);
  const char* names[] = {"q", "k", "v", "g", "d(xbc|dt)", "ddt_bias", "dA_log"};
  for (size_t i = 0; i < f.size(); ++i) expect_rel(names[i], f[i], r[i], 1e-2);
}

// A decode step's conv output is [B, 1, C] with strides (C, 1, 1): PyTorch
// calls it contiguous, yet its middle stride says nothing about the rows'
// spacing (this view once sent the kernel's 16-byte loads to odd addresses).
TEST(CudaFusedOps, SsdInputsOfADecodeStepView) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(16);
  const int64_t H = 16, P = 64, N = 64, C = H * P + 2 * N;
  auto xbc = torch::randn({5, C, 1}, cuda(torch::kBFloat16)).transpose(1, 2);  // [5, 1, C]
  ASSERT_EQ(xbc.stride(1), 1);
  auto dt = torch::randn({5, 1, H}, cuda(torch::kBFloat16));
  auto bias = torch::randn({H}, cuda(torch::kFloat32)), alog = torch::rand({H}, cuda(torch::kFloat32));
  auto f = k::ssd_inputs(xbc, dt, bias, alog, H, P, N);
  auto r = k::ssd_inputs_reference(xbc, dt, bias, alog, H, P, N);
  torch::cuda::synchronize();
  expect_rel("q", f.q, r.q, 1e-2);
  expect_rel("k", f.k, r.k, 1e-2);
  expect_rel("v", f.v, r.v, 1e-2);
  expect_rel("g", f.g, r.g, 1e-2);
}

// 1M tokens are 131k chunks of 8 rows: past a grid's y limit (65535), where
// the launch once failed with "invalid argument" (bench/long_context at 1M).
TEST(CudaFusedOps, Hgrn2GatesAtAMillionTokens) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(18);
  auto h = torch::randn({1, 1 << 20, 3 * 64}, cuda(torch::kBFloat16)).requires_grad_(true);
  auto f = k::hgrn2_gates(h, torch::Tensor());
  auto r = k::hgrn2_gates_reference(h.detach().to(torch::kFloat32), torch::Tensor());
  expect_rel("q", f.q, r.q, 1e-2);
  expect_rel("g", f.g, r.g, 1e-2);
  auto gq = torch::randn_like(f.q);
  torch::autograd::backward({f.q}, {gq});
  torch::cuda::synchronize();
  EXPECT_TRUE(h.grad().defined());
  EXPECT_TRUE(torch::isfinite(h.grad()).all().item<bool>());
}

TEST(CudaFusedOps, Hgrn2GatesMatchReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (bool with_lb : {false, true}) {
    std::printf("hgrn2_gates lower bound %d\n", with_lb);
    torch::manual_seed(16);
    auto h = torch::randn({2, 333, 3 * 768}, cuda(torch::kBFloat16));
    auto lb = with_lb ? 0.5 * torch::rand({768}, cuda(torch::kFloat32)) : torch::Tensor();
    auto go = [&](bool fused) {
      auto hi = h.clone().requires_grad_(true);
      auto li = with_lb ? lb.clone().requires_grad_(true) : torch::Tensor();
      auto r = fused ? k::hgrn2_gates(hi, li) : k::hgrn2_gates_reference(hi.to(torch::kFloat32), li);
      torch::manual_seed(17);
      auto outs = std::vector<torch::Tensor>{r.q, r.k, r.v, r.g};
      std::vector<torch::Tensor> gs;
      for (auto& o : outs) gs.push_back(torch::randn_like(o));
      torch::autograd::backward(outs, gs);
      std::vector<torch::Tensor> res{r.q.detach(), r.k.detach(), r.v.detach(), r.g.detach(), hi.grad()};
      if (with_lb) res.push_back(li.grad());
      return res;
    };
    auto f = go(true), r = go(false);
    const char* names[] = {"q", "k", "v", "g", "dh", "dlower_bound"};
    for (size_t i = 0; i < f.size(); ++i) expect_rel(names[i], f[i], r[i], 1e-2);
  }
}
