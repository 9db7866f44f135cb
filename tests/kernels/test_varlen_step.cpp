// Packed variable-length sequences (cu_seqlens) and the one-token step API,
// each against the per-sequence / whole-sequence forms.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/kernels/helpers.h"

namespace scalelab::kernels::test {
namespace {

class PerFamily : public ::testing::TestWithParam<bool> {
 protected:
  const Family& family() const { return GetParam() ? vector_family() : scalar_family(); }
};

// Lengths with an empty sequence, a single step and chunk-boundary neighbours.
const std::vector<int64_t> kLengths = {5, 0, 63, 1, 33};

torch::Tensor offsets(torch::ScalarType dtype) {
  std::vector<int64_t> cu = {0};
  for (int64_t n : kLengths) cu.push_back(cu.back() + n);
  return torch::tensor(cu, torch::kInt64).to(dtype);
}

TEST_P(PerFamily, CuSeqlensEqualsEachSequenceAlone) {
  const auto& f = family();
  const int64_t N = kLengths.size(), T = offsets(torch::kInt64)[-1].item<int64_t>();
  const auto in = make_inputs(f, 1, T, 2, 8, 16, true, Gate::kMixed, torch::kFloat64, 11, N);
  for (auto cu_dtype : {torch::kInt32, torch::kInt64}) {
    LinearAttnOptions opt;
    opt.chunk_size = 16;
    opt.cu_seqlens = offsets(cu_dtype);
    for (bool chunked : {true, false}) {
      const auto packed = (chunked ? f.chunked : f.recurrent)(in.q, in.k, in.v, in.g, in.h0, opt);
      ASSERT_EQ(packed.o.sizes(), in.v.sizes());
      ASSERT_EQ(packed.final_state.sizes(), in.h0.sizes());
      int64_t start = 0;
      for (int64_t i = 0; i < N; ++i) {
        const int64_t n = kLengths[i];
        const auto tag = std::string(chunked ? "chunked" : "recurrent") + " sequence " +
                         std::to_string(i);
        const auto h0 = in.h0.narrow(0, i, 1);
        if (n == 0) {
          expect_close(packed.final_state.narrow(0, i, 1), h0, 0.0, tag + " state", 0.0);
          continue;
        }
        auto part = [&](const torch::Tensor& x) { return x.narrow(1, start, n); };
        const auto alone = f.reference_quadratic(part(in.q), part(in.k), part(in.v), part(in.g),
                                                 h0, 1 / std::sqrt(8.0));
        expect_close(part(packed.o), alone.o, 1e-10, tag + " o");
        expect_close(packed.final_state.narrow(0, i, 1), alone.final_state, 1e-10, tag + " state");
        start += n;
      }
    }
  }
}

TEST_P(PerFamily, CuSeqlensGradientsEqualEachSequenceAlone) {
  const auto& f = family();
  const int64_t N = kLengths.size(), T = offsets(torch::kInt64)[-1].item<int64_t>();
  const auto in = make_inputs(f, 1, T, 2, 8, 8, true, Gate::kStrong, torch::kFloat64, 12, N);
  auto packed = [&](const Inputs& x) {
    LinearAttnOptions opt;
    opt.chunk_size = 32;
    opt.cu_seqlens = offsets(torch::kInt64);
    return f.chunked(x.q, x.k, x.v, x.g, x.h0, opt);
  };
  // The same map built by hand from the naive form, sequence by sequence.
  auto separate = [&](const Inputs& x) {
    std::vector<torch::Tensor> os, states;
    int64_t start = 0;
    for (int64_t i = 0; i < N; ++i) {
      const int64_t n = kLengths[i];
      const auto h0 = x.h0.narrow(0, i, 1);
      if (n == 0) {
        states.push_back(h0);
        continue;
      }
      auto part = [&](const torch::Tensor& t) { return t.narrow(1, start, n); };
      auto r = f.reference_quadratic(part(x.q), part(x.k), part(x.v), part(x.g), h0,
                                     1 / std::sqrt(8.0));
      os.push_back(r.o);
      states.push_back(r.final_state);
      start += n;
    }
    return LinearAttnResult{torch::cat(os, 1), torch::cat(states, 0)};
  };
  const auto want = gradients(in, separate, 3), got = gradients(in, packed, 3);
  const char* names[] = {"dq", "dk", "dv", "dg", "dh0"};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i], 1e-10, names[i]);
}

// Generation: the step API chained over t reproduces the chunked op, in fp64
// and in fp32 (where the state is carried in fp32 as the op returns it).
TEST_P(PerFamily, StepChainEqualsChunked) {
  const auto& f = family();
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const auto in = make_inputs(f, 2, 40, 2, 16, 8, true, Gate::kMixed, dtype, 13);
    LinearAttnOptions opt;
    opt.chunk_size = 16;
    const auto want = f.chunked(in.q, in.k, in.v, in.g, in.h0, opt);
    torch::Tensor state = in.h0;
    std::vector<torch::Tensor> os;
    for (int64_t t = 0; t < 40; ++t) {
      auto r = f.step(in.q.select(1, t), in.k.select(1, t), in.v.select(1, t), in.g.select(1, t),
                      state, -1.0);
      ASSERT_EQ(r.o.sizes(), torch::IntArrayRef({2, 2, 8}));
      EXPECT_EQ(r.o.scalar_type(), dtype);
      state = r.final_state;
      os.push_back(r.o);
    }
    const double tol = dtype == torch::kFloat64 ? 1e-10 : 1e-5;
    expect_close(torch::stack(os, 1), want.o, tol, "step o");
    expect_close(state, want.final_state, tol, "step state");
  }
}

// A first step from no state equals a first step from zeros.
TEST_P(PerFamily, StepFromUndefinedStateIsFromZeros) {
  const auto& f = family();
  const auto in = make_inputs(f, 1, 1, 2, 4, 4, true, Gate::kWeak, torch::kFloat64, 14);
  auto step = [&](const torch::Tensor& s) {
    return f.step(in.q.select(1, 0), in.k.select(1, 0), in.v.select(1, 0), in.g.select(1, 0), s,
                  0.5);
  };
  const auto a = step({}), b = step(torch::zeros_like(in.h0));
  expect_close(a.o, b.o, 0.0, "o", 0.0);
  expect_close(a.final_state, b.final_state, 0.0, "state", 0.0);
}

INSTANTIATE_TEST_SUITE_P(Kernels, PerFamily, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "vector" : "scalar"; });

}  // namespace
}  // namespace scalelab::kernels::test
