// chunked == recurrent == naive quadratic form, in fp64, for both families:
// outputs, final states and every gradient, over a table of awkward lengths,
// head dims (K == V and K != V), decay regimes and chunk sizes.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/kernels/helpers.h"

namespace scalelab::kernels::test {
namespace {

struct Case {
  int64_t T, K, V;
  bool with_h0;
  Gate gate;
};

// Every length meets every (dims, state, gate) row: T = 1 (a single step),
// 63 / 65 (one short of, one past a chunk boundary) and 257 (several chunks
// plus one step).
std::vector<Case> cases() {
  struct Row {
    int64_t K, V;
    bool with_h0;
    Gate gate;
  };
  const Row rows[] = {{8, 8, false, Gate::kWeak},
                      {16, 8, true, Gate::kStrong},
                      {8, 16, true, Gate::kMixed},
                      {16, 16, false, Gate::kStrong}};
  std::vector<Case> out;
  for (int64_t T : {1, 63, 65, 257}) {
    for (const auto& r : rows) out.push_back({T, r.K, r.V, r.with_h0, r.gate});
  }
  return out;
}

constexpr int64_t kB = 2, kH = 2;
constexpr double kTol = 1e-10;  // fp64: the forms differ only by rounding
const int64_t kChunks[] = {16, 32, 64};

class LinearAttnTable : public ::testing::TestWithParam<std::tuple<bool, Case>> {
 protected:
  const Family& family() const {
    return std::get<0>(GetParam()) ? vector_family() : scalar_family();
  }
  Case c() const { return std::get<1>(GetParam()); }
  Inputs inputs() const {
    const auto x = c();
    return make_inputs(family(), kB, x.T, kH, x.K, x.V, x.with_h0, x.gate, torch::kFloat64,
                       1000 + x.T * 7 + x.K + x.V);
  }
};

LinearAttnResult quadratic(const Family& f, const Inputs& in) {
  return f.reference_quadratic(in.q, in.k, in.v, in.g, in.h0, 0.3);
}
LinearAttnResult chunked(const Family& f, const Inputs& in, int64_t chunk) {
  LinearAttnOptions opt;
  opt.scale = 0.3;
  opt.chunk_size = chunk;
  return f.chunked(in.q, in.k, in.v, in.g, in.h0, opt);
}
LinearAttnResult recurrent(const Family& f, const Inputs& in) {
  LinearAttnOptions opt;
  opt.scale = 0.3;
  return f.recurrent(in.q, in.k, in.v, in.g, in.h0, opt);
}

TEST_P(LinearAttnTable, ForwardMatchesQuadratic) {
  const auto& f = family();
  const auto in = inputs();
  const auto ref = quadratic(f, in);
  ASSERT_EQ(ref.o.sizes(), torch::IntArrayRef({kB, c().T, kH, c().V}));
  ASSERT_EQ(ref.final_state.sizes(), torch::IntArrayRef({kB, kH, c().K, c().V}));
  const auto rec = recurrent(f, in);
  expect_close(rec.o, ref.o, kTol, "recurrent o");
  expect_close(rec.final_state, ref.final_state, kTol, "recurrent final state");
  for (int64_t chunk : kChunks) {
    const auto ch = chunked(f, in, chunk);
    const auto tag = "chunk " + std::to_string(chunk);
    expect_close(ch.o, ref.o, kTol, tag + " o");
    expect_close(ch.final_state, ref.final_state, kTol, tag + " final state");
    EXPECT_EQ(ch.o.scalar_type(), torch::kFloat64);
  }
}

TEST_P(LinearAttnTable, GradientsMatchQuadratic) {
  const auto& f = family();
  const auto in = inputs();
  const char* names[] = {"dq", "dk", "dv", "dg", "dh0"};
  const auto ref = gradients(in, [&](const Inputs& x) { return quadratic(f, x); }, 7);
  ASSERT_EQ(ref.size(), in.h0.defined() ? 5u : 4u);
  auto check = [&](const std::vector<torch::Tensor>& got, const std::string& form) {
    ASSERT_EQ(got.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      expect_close(got[i], ref[i], kTol, form + " " + names[i]);
    }
  };
  check(gradients(in, [&](const Inputs& x) { return recurrent(f, x); }, 7), "recurrent");
  for (int64_t chunk : kChunks) {
    check(gradients(in, [&](const Inputs& x) { return chunked(f, x, chunk); }, 7),
          "chunk " + std::to_string(chunk));
  }
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<bool, Case>>& info) {
  const auto& [vec, x] = info.param;
  std::ostringstream s;
  s << (vec ? "vector" : "scalar") << "_T" << x.T << "_K" << x.K << "_V" << x.V
    << (x.with_h0 ? "_h0_" : "_") << gate_name(x.gate);
  return s.str();
}

INSTANTIATE_TEST_SUITE_P(Kernels, LinearAttnTable,
                         ::testing::Combine(::testing::Bool(), ::testing::ValuesIn(cases())),
                         case_name);

}  // namespace
}  // namespace scalelab::kernels::test
