// Options, dtypes, numerical stability in fp32, and argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/kernels/helpers.h"

namespace scalelab::kernels::test {
namespace {

class Options : public ::testing::TestWithParam<bool> {
 protected:
  const Family& family() const { return GetParam() ? vector_family() : scalar_family(); }
};

TEST_P(Options, DefaultScaleIsInverseSqrtK) {
  const auto& f = family();
  const auto in = make_inputs(f, 1, 9, 2, 16, 4, false, Gate::kMixed, torch::kFloat64, 21);
  LinearAttnOptions opt;
  const auto r = f.chunked(in.q, in.k, in.v, in.g, in.h0, opt);
  const auto want = f.reference_quadratic(in.q, in.k, in.v, in.g, in.h0, 0.25);
  expect_close(r.o, want.o, 1e-10, "o");
  opt.scale = 2.0;
  const auto r2 = f.chunked(in.q, in.k, in.v, in.g, in.h0, opt);
  expect_close(r2.o, want.o * 8.0, 1e-10, "o at scale 2");
}

TEST_P(Options, FinalStateOnlyWhenAsked) {
  const auto& f = family();
  const auto in = make_inputs(f, 1, 5, 1, 4, 4, false, Gate::kWeak, torch::kFloat64, 22);
  LinearAttnOptions opt;
  opt.output_final_state = false;
  EXPECT_FALSE(f.chunked(in.q, in.k, in.v, in.g, in.h0, opt).final_state.defined());
  EXPECT_FALSE(f.recurrent(in.q, in.k, in.v, in.g, in.h0, opt).final_state.defined());
}

// Half-precision inputs: o comes back in their dtype, the state in fp32, and
// both match the fp64 ground truth to bf16 rounding.
TEST_P(Options, Bfloat16InputsAccumulateInFp32) {
  const auto& f = family();
  const auto in = make_inputs(f, 1, 70, 2, 8, 8, true, Gate::kMixed, torch::kBFloat16, 23);
  LinearAttnOptions opt;
  opt.chunk_size = 32;
  const auto r = f.chunked(in.q, in.k, in.v, in.g, in.h0, opt);
  EXPECT_EQ(r.o.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(r.final_state.scalar_type(), torch::kFloat32);
  auto d = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
  const auto want =
      f.reference_quadratic(d(in.q), d(in.k), d(in.v), d(in.g), d(in.h0), 1 / std::sqrt(8.0));
  expect_close(r.o, want.o, 1e-2, "o");
  expect_close(r.final_state, want.final_state, 1e-5, "state");
}

// fp32 with strong decay over long chunks: a gate folded as q.exp(b),
// k.exp(-b) overflows here (b reaches -5 * 128); ours must stay finite and
// accurate, for every chunk size.
TEST_P(Options, Fp32StrongDecayIsStable) {
  const auto& f = family();
  const auto in = make_inputs(f, 2, 300, 2, 16, 16, true, Gate::kStrong, torch::kFloat32, 24);
  auto d = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
  const auto want =
      f.reference_quadratic(d(in.q), d(in.k), d(in.v), d(in.g), d(in.h0), 0.25);
  for (int64_t chunk : {16, 64, 128}) {
    LinearAttnOptions opt;
    opt.chunk_size = chunk;
    const auto r = f.chunked(in.q, in.k, in.v, in.g, in.h0, opt);
    expect_close(r.o, want.o, 1e-5, "o, chunk " + std::to_string(chunk));
    expect_close(r.final_state, want.final_state, 1e-5, "state, chunk " + std::to_string(chunk));
  }
}

// Chunk sizes that are not powers of two (and, for the vector family, give
// sub-blocks of 10 and 1 steps) are exact too.
TEST_P(Options, OddChunkSizes) {
  const auto& f = family();
  const auto in = make_inputs(f, 1, 50, 2, 8, 4, true, Gate::kMixed, torch::kFloat64, 25);
  const auto want = f.reference_quadratic(in.q, in.k, in.v, in.g, in.h0, 1 / std::sqrt(8.0));
  for (int64_t chunk : {1, 7, 20, 50, 1000}) {
    LinearAttnOptions opt;
    opt.chunk_size = chunk;
    const auto r = f.chunked(in.q, in.k, in.v, in.g, in.h0, opt);
    expect_close(r.o, want.o, 1e-10, "o, chunk " + std::to_string(chunk));
    expect_close(r.final_state, want.final_state, 1e-10, "state, chunk " + std::to_string(chunk));
  }
}

TEST_P(Options, EmptySequenceReturnsInitialState) {
  const auto& f = family();
  const auto in = make_inputs(f, 2, 0, 2, 4, 3, true, Gate::kMixed, torch::kFloat64, 26);
  const auto r = f.chunked(in.q, in.k, in.v, in.g, in.h0, {});
  EXPECT_EQ(r.o.sizes(), torch::IntArrayRef({2, 0, 2, 3}));
  expect_close(r.final_state, in.h0, 0.0, "state", 0.0);
}

// Each bad argument is refused with a message that names it.
TEST_P(Options, BadArgumentsNameTheArgument) {
  const auto& f = family();
  const auto in = make_inputs(f, 2, 6, 2, 4, 3, true, Gate::kMixed, torch::kFloat64, 27);
  auto expect_error = [&](const std::string& needle, const torch::Tensor& q,
                          const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& g,
                          const torch::Tensor& h0, const LinearAttnOptions& opt) {
    for (auto op : {f.chunked, f.recurrent}) {
      try {
        op(q, k, v, g, h0, opt);
        ADD_FAILURE() << "no error; expected one naming " << needle;
      } catch (const c10::Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      }
    }
  };
  LinearAttnOptions opt;
  expect_error("q must be [B,T,H,K]", in.q[0], in.k, in.v, in.g, in.h0, opt);
  expect_error("k must match q", in.q, in.k.narrow(3, 0, 2), in.v, in.g, in.h0, opt);
  expect_error("v must be [B,T,H,V]", in.q, in.k, in.v.narrow(1, 0, 5), in.g, in.h0, opt);
  expect_error("g must be", in.q, in.k, in.v, in.g.unsqueeze(-1), in.h0, opt);
  expect_error("initial_state must be", in.q, in.k, in.v, in.g, in.h0.narrow(3, 0, 2), opt);
  expect_error("initial_state batch", in.q, in.k, in.v, in.g, in.h0.narrow(0, 0, 1), opt);
  expect_error("floating point", in.q.to(torch::kLong), in.k, in.v, in.g, in.h0, opt);
  opt.chunk_size = 0;
  expect_error("chunk_size", in.q, in.k, in.v, in.g, in.h0, opt);
  opt = {};
  opt.cu_seqlens = torch::tensor({0, 6}, torch::kInt32);
  expect_error("B == 1", in.q, in.k, in.v, in.g, in.h0, opt);
  auto one = [](const torch::Tensor& t) { return t.narrow(0, 0, 1); };
  opt.cu_seqlens = torch::tensor({0, 4, 5}, torch::kInt32);
  expect_error("cu_seqlens[-1] must equal T", one(in.q), one(in.k), one(in.v), one(in.g),
               in.h0, opt);
  opt.cu_seqlens = torch::tensor({0, 4, 2, 6}, torch::kInt64);
  expect_error("non-decreasing", one(in.q), one(in.k), one(in.v), one(in.g), in.h0, opt);
  opt.cu_seqlens = torch::tensor({0, 4, 6}, torch::kInt64);
  expect_error("one state per sequence", one(in.q), one(in.k), one(in.v), one(in.g),
               in.h0.narrow(0, 0, 1), opt);
  opt.cu_seqlens = torch::tensor({0.0, 6.0});
  expect_error("int32 or int64", one(in.q), one(in.k), one(in.v), one(in.g), {}, opt);
}

// Gradients with respect to only some inputs (the others constants) are the
// naive form's too: the recompute path must not assume all of them are wanted.
TEST_P(Options, GradientOfSomeInputsOnly) {
  const auto& f = family();
  const auto in = make_inputs(f, 1, 40, 2, 8, 4, true, Gate::kMixed, torch::kFloat64, 28);
  auto grad_v = [&](bool chunked) {
    auto v = in.v.detach().clone().requires_grad_(true);
    LinearAttnOptions opt;
    opt.chunk_size = 16;
    auto r = chunked ? f.chunked(in.q, in.k, v, in.g, in.h0, opt)
                     : f.reference_quadratic(in.q, in.k, v, in.g, in.h0, 1 / std::sqrt(8.0));
    return torch::autograd::grad({r.o.sum() + r.final_state.sum()}, {v})[0];
  };
  expect_close(grad_v(true), grad_v(false), 1e-10, "dv");
}

// The vector family's chunked op keeps only its inputs for backward (its
// intermediates are ~16x k); the scalar one uses plain LibTorch autograd.
TEST(Autograd, VectorChunkedRecomputesInBackward) {
  const auto in = make_inputs(vector_family(), 1, 20, 1, 4, 4, false, Gate::kMixed,
                              torch::kFloat32, 29);
  auto q = in.q.clone().requires_grad_(true);
  const auto r = vector_family().chunked(q, in.k, in.v, in.g, in.h0, {});
  ASSERT_TRUE(r.o.grad_fn());
  EXPECT_NE(r.o.grad_fn()->name().find("RecomputeInBackward"), std::string::npos)
      << r.o.grad_fn()->name();
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(vector_family().chunked(q, in.k, in.v, in.g, in.h0, {}).o.requires_grad());
}

INSTANTIATE_TEST_SUITE_P(Kernels, Options, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "vector" : "scalar"; });

}  // namespace
}  // namespace scalelab::kernels::test
