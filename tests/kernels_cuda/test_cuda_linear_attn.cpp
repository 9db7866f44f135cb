// Device tests of the CUDA linear-attention kernels (both families) against
// the fp32 LibTorch recurrent reference (kernels/*/reference.cpp) run on the
// same bf16-rounded inputs: output, final state and every gradient within a
// relative RMS of 5e-3, over T = 1, 63, 64, 65, 1000, 4096 and K = V in
// {64, 128}; plus packed sequences, K != V, strong gates, determinism and the
// op-level dispatch. Skipped where no GPU is present (CI).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kernels/scalar_decay/cuda.h"
#include "kernels/scalar_decay/op.h"
#include "kernels/scalar_decay/reference.h"
#include "kernels/vector_decay/cuda.h"
#include "kernels/vector_decay/op.h"
#include "kernels/vector_decay/reference.h"

namespace sk = scalelab::kernels;

namespace {

constexpr double kTol = 5e-3;

using Op = sk::LinearAttnResult (*)(const torch::Tensor&, const torch::Tensor&,
                                    const torch::Tensor&, const torch::Tensor&,
                                    const torch::Tensor&, const sk::LinearAttnOptions&);

struct Shape {
  bool vec;
  int64_t B, T, H, K, V;
  bool h0;
  double gate;  // g = -gate * sigmoid(noise): larger means faster forgetting
};

std::string name(const Shape& s) {
  return std::string(s.vec ? "vector" : "scalar") + "_B" + std::to_string(s.B) + "_T" +
         std::to_string(s.T) + "_H" + std::to_string(s.H) + "_K" + std::to_string(s.K) + "_V" +
         std::to_string(s.V) + (s.h0 ? "_h0" : "") + "_gate" + std::to_string(int(s.gate * 100));
}

// gtest would otherwise print the struct's raw bytes (padding included) into
// every ctest name.
void PrintTo(const Shape& s, std::ostream* os) { *os << name(s); }

struct Inputs {
  torch::Tensor q, k, v, g, h0;  // q, k, v bf16; g, h0 fp32
};

Inputs make_inputs(const Shape& s, int64_t n_states, uint64_t seed) {
  torch::manual_seed(seed);
  auto bf = torch::dtype(torch::kBFloat16).device(torch::kCUDA);
  auto f32 = torch::dtype(torch::kFloat32).device(torch::kCUDA);
  Inputs in;
  in.q = torch::randn({s.B, s.T, s.H, s.K}, bf);
  in.k = torch::randn({s.B, s.T, s.H, s.K}, bf);
  in.v = torch::randn({s.B, s.T, s.H, s.V}, bf);
  auto gshape = s.vec ? std::vector<int64_t>{s.B, s.T, s.H, s.K} : std::vector<int64_t>{s.B, s.T, s.H};
  in.g = -s.gate * torch::sigmoid(torch::randn(gshape, f32) * 2);
  if (s.h0) in.h0 = torch::randn({n_states, s.H, s.K, s.V}, f32) * 0.5;
  return in;
}

double rel_rms(const torch::Tensor& a, const torch::Tensor& ref) {
  auto r = ref.to(torch::kFloat64);
  const double den = r.norm().item<double>();
  const double num = (a.to(torch::kFloat64) - r).norm().item<double>();
  return den == 0 ? num : num / den;
}

struct Run {
  std::vector<torch::Tensor> out;    // o, final state
  std::vector<torch::Tensor> grads;  // q, k, v, g, (h0)
};

// Runs FN on leaf copies of IN (in DTYPE for q, k, v), back-propagates one
// fixed random projection of (o, final state), returns outputs and gradients.
template <typename Fn>
Run run(const Inputs& in, torch::ScalarType dtype, Fn fn, uint64_t seed) {
  std::vector<torch::Tensor> leaves = {in.q.to(dtype), in.k.to(dtype), in.v.to(dtype), in.g.clone()};
  if (in.h0.defined()) leaves.push_back(in.h0.clone());
  for (auto& t : leaves) t = t.detach().requires_grad_(true);
  auto r = fn(leaves[0], leaves[1], leaves[2], leaves[3],
              in.h0.defined() ? leaves[4] : torch::Tensor());
  torch::manual_seed(seed + 7);
  auto wo = torch::randn(r.o.sizes(), r.o.options().dtype(torch::kFloat32));
  auto ws = torch::randn(r.final_state.sizes(), r.final_state.options().dtype(torch::kFloat32));
  auto loss = (r.o.to(torch::kFloat32) * wo).sum() + (r.final_state * ws).sum();
  auto grads = torch::autograd::grad({loss}, leaves);
  Run out;
  out.out = {r.o.detach(), r.final_state.detach()};
  for (auto& g : grads) out.grads.push_back(g.detach());
  return out;
}

const char* kGradNames[] = {"dq", "dk", "dv", "dg", "dh0"};

// Also prints the worst error of the shape, so a run shows the margin left
// under kTol, not only that it held.
void expect_close(const Run& got, const Run& ref, const std::string& what) {
  double worst = 0;
  std::string worst_name;
  auto check = [&](const torch::Tensor& a, const torch::Tensor& b, const std::string& field) {
    const double e = rel_rms(a, b);
    EXPECT_LT(e, kTol) << what << ": " << field;
    if (e > worst) worst = e, worst_name = field;
  };
  check(got.out[0], ref.out[0], "o");
  check(got.out[1], ref.out[1], "final state");
  ASSERT_EQ(got.grads.size(), ref.grads.size());
  for (size_t i = 0; i < got.grads.size(); ++i) {
    EXPECT_TRUE(torch::isfinite(got.grads[i]).all().item<bool>()) << what << ": " << kGradNames[i];
    check(got.grads[i], ref.grads[i], kGradNames[i]);
  }
  std::printf("%-40s worst rel RMS %.2e (%s)\n", what.c_str(), worst, worst_name.c_str());
}

bool have_gpu() { return torch::cuda::is_available(); }

Op cuda_op(bool vec) { return vec ? &sk::cuda_vector_decay_chunked : &sk::cuda_scalar_decay_chunked; }

auto reference(bool vec, const sk::LinearAttnOptions& opt) {
  return [vec, opt](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                    const torch::Tensor& g, const torch::Tensor& h0) {
    return vec ? sk::vector_decay_recurrent(q, k, v, g, h0, opt)
               : sk::scalar_decay_recurrent(q, k, v, g, h0, opt);
  };
}

auto kernel(bool vec, const sk::LinearAttnOptions& opt) {
  return [vec, opt](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                    const torch::Tensor& g, const torch::Tensor& h0) {
    return cuda_op(vec)(q, k, v, g, h0, opt);
  };
}

class CudaLinearAttn : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaLinearAttn, MatchesFp32ReferenceAndIsDeterministic) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const Shape s = GetParam();
  const auto in = make_inputs(s, s.B, 1234 + s.T);
  const sk::LinearAttnOptions opt;
  const auto ref = run(in, torch::kFloat32, reference(s.vec, opt), 99);
  const auto got = run(in, torch::kBFloat16, kernel(s.vec, opt), 99);
  expect_close(got, ref, name(s));
  const auto again = run(in, torch::kBFloat16, kernel(s.vec, opt), 99);
  for (size_t i = 0; i < got.grads.size(); ++i)
    EXPECT_TRUE(torch::equal(got.grads[i], again.grads[i])) << name(s) << ": " << kGradNames[i] << " differs run to run";
  EXPECT_TRUE(torch::equal(got.out[0], again.out[0])) << name(s) << ": o differs run to run";
}

std::vector<Shape> table() {
  std::vector<Shape> shapes;
  for (bool vec : {false, true})
    for (int64_t d : {64, 128})
      for (int64_t T : {1, 63, 64, 65, 1000, 4096})
        shapes.push_back({vec, 2, T, 3, d, d, T % 2 == 1, vec ? 1.0 : 0.3});
  // K != V (Mamba2-like state 128 x head 64, and the reverse) and strong gates
  // that underflow exp(-b) within a chunk if the gate were folded naively.
  shapes.push_back({false, 1, 300, 2, 128, 64, true, 0.3});
  shapes.push_back({true, 1, 300, 2, 64, 128, true, 1.0});
  shapes.push_back({true, 2, 200, 2, 128, 128, true, 8.0});
  shapes.push_back({false, 2, 200, 2, 64, 64, true, 8.0});
  return shapes;
}

INSTANTIATE_TEST_SUITE_P(Table, CudaLinearAttn, ::testing::ValuesIn(table()),
                         [](const auto& info) { return name(info.param); });

// Packed sequences (one of them empty, one a single row) against the
// reference run sequence by sequence.
TEST(CudaLinearAttnVarlen, PackedSequencesMatchReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (bool vec : {false, true}) {
    const std::vector<int64_t> offsets = {0, 100, 100, 101, 1000, 1065, 1300};
    const Shape s{vec, 1, offsets.back(), 2, 64, 128, true, vec ? 1.0 : 0.3};
    const auto in = make_inputs(s, static_cast<int64_t>(offsets.size()) - 1, 7);
    sk::LinearAttnOptions opt;
    opt.cu_seqlens = torch::tensor(offsets, torch::kInt32).to(torch::kCUDA);
    const auto ref = run(in, torch::kFloat32, reference(vec, opt), 5);
    const auto got = run(in, torch::kBFloat16, kernel(vec, opt), 5);
    expect_close(got, ref, std::string(vec ? "vector" : "scalar") + " varlen");
  }
}

// The public op routes CUDA tensors to these kernels (same bits as calling
// them directly) and falls back to LibTorch for head dims they do not cover.
TEST(CudaLinearAttnDispatch, OpUsesKernelsOnGpuAndFallsBackForOddHeadDims) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (bool vec : {false, true}) {
    const Shape s{vec, 2, 130, 2, 64, 64, true, 0.5};
    const auto in = make_inputs(s, s.B, 3);
    sk::LinearAttnOptions opt;
    auto op = vec ? &sk::vector_decay_chunked : &sk::scalar_decay_chunked;
    auto a = op(in.q, in.k, in.v, in.g, in.h0, opt);
    auto b = cuda_op(vec)(in.q, in.k, in.v, in.g, in.h0, opt);
    EXPECT_TRUE(torch::equal(a.o, b.o));
    EXPECT_EQ(a.o.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(b.final_state.scalar_type(), torch::kFloat32);

    const Shape odd{vec, 1, 70, 2, 32, 48, false, 0.5};
    const auto in2 = make_inputs(odd, 1, 4);
    EXPECT_FALSE(vec ? sk::cuda_vector_decay_supported(32, 48) : sk::cuda_scalar_decay_supported(32, 48));
    const auto got = run(in2, torch::kFloat32, kernel(vec, opt), 1);
    const auto ref = run(in2, torch::kFloat32, reference(vec, opt), 1);
    expect_close(got, ref, "fallback");
  }
}

TEST(CudaLinearAttnErrors, RejectsMismatchedShapesAndDevices) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const Shape s{false, 1, 16, 2, 64, 64, false, 0.5};
  const auto in = make_inputs(s, 1, 1);
  EXPECT_THROW(sk::cuda_scalar_decay_chunked(in.q, in.k, in.v, in.g.cpu(), {}, {}), c10::Error);
  EXPECT_THROW(sk::cuda_scalar_decay_chunked(in.q, in.k.narrow(1, 0, 8), in.v, in.g, {}, {}), c10::Error);
  EXPECT_THROW(sk::cuda_vector_decay_chunked(in.q, in.k, in.v, in.g, {}, {}), c10::Error);
}

}  // namespace
