// The gated delta rule (kernels/delta_rule): chunked == recurrent in fp64 for
// outputs, final states and every gradient (dq, dk, dv, dg, dbeta, dh0) over
// awkward lengths and chunk sizes; a finite-difference check that the shared
// gradient is the true one; packed sequences; the step API; fp32.
#include <gtest/gtest.h>

#include <sstream>

#include "kernels/delta_rule/op.h"
#include "kernels/delta_rule/reference.h"
#include "tests/kernels/helpers.h"

namespace scalelab::kernels::test {
namespace {

struct DeltaInputs {
  torch::Tensor q, k, v, g, beta, h0;  // h0 undefined when not asked for
  std::vector<torch::Tensor> all() const {
    std::vector<torch::Tensor> x = {q, k, v, g, beta};
    if (h0.defined()) x.push_back(h0);
    return x;
  }
};

// As the Gated DeltaNet layer feeds the op: L2-normalised k (and q), beta in
// (0, 1), g <= 0 in the chosen regime (helpers.h's Gate).
DeltaInputs make_delta(int64_t B, int64_t T, int64_t H, int64_t K, int64_t V, bool with_h0,
                       Gate gate, torch::ScalarType dtype, uint64_t seed, int64_t n_states = -1) {
  const auto base =
      make_inputs(scalar_family(), B, T, H, K, V, with_h0, gate, torch::kFloat64, seed, n_states);
  DeltaInputs in{base.q, base.k, base.v, base.g, torch::Tensor(), base.h0};
  auto l2 = [](const torch::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-6); };
  in.q = l2(in.q);
  in.k = l2(in.k);
  torch::manual_seed(seed + 1);
  in.beta = torch::sigmoid(torch::randn({B, T, H}, torch::kFloat64));
  for (auto* t : {&in.q, &in.k, &in.v, &in.g, &in.beta, &in.h0})
    if (t->defined()) *t = t->to(dtype);
  return in;
}

using Form = std::function<LinearAttnResult(const std::vector<torch::Tensor>&)>;

LinearAttnOptions options(int64_t chunk) {
  LinearAttnOptions opt;
  opt.scale = 0.3;
  opt.chunk_size = chunk;
  return opt;
}
torch::Tensor h0_of(const std::vector<torch::Tensor>& x) {
  return x.size() > 5 ? x[5] : torch::Tensor();
}
Form chunked(int64_t chunk) {
  return [chunk](const std::vector<torch::Tensor>& x) {
    return delta_rule_chunked(x[0], x[1], x[2], x[3], x[4], h0_of(x), options(chunk));
  };
}
LinearAttnResult recurrent(const std::vector<torch::Tensor>& x) {
  return delta_rule_recurrent(x[0], x[1], x[2], x[3], x[4], h0_of(x), options(64));
}

// <o, Wo> + <S_T, Ws> for random W fixed by SEED: every output and state entry counts.
torch::Tensor projected(const LinearAttnResult& r, uint64_t seed) {
  torch::manual_seed(seed);
  auto wo = torch::randn(r.o.sizes(), r.o.options());
  auto ws = torch::randn(r.final_state.sizes(), r.final_state.options());
  return (r.o * wo).sum() + (r.final_state * ws).sum();
}

std::vector<torch::Tensor> grads(const DeltaInputs& in, const Form& form) {
  std::vector<torch::Tensor> x;
  for (const auto& t : in.all()) x.push_back(t.detach().clone().requires_grad_(true));
  return torch::autograd::grad({projected(form(x), 7)}, x);
}

const char* const kGradNames[] = {"dq", "dk", "dv", "dg", "dbeta", "dh0"};

struct Case {
  int64_t T, K, V;
  bool with_h0;
  Gate gate;
};

std::vector<Case> cases() {
  struct Row {
    int64_t K, V;
    bool with_h0;
    Gate gate;
  };
  const Row rows[] = {
      {8, 8, false, Gate::kWeak}, {16, 8, true, Gate::kStrong}, {8, 16, true, Gate::kMixed}};
  std::vector<Case> out;
  for (int64_t T : {1, 63, 64, 65, 200})
    for (const auto& r : rows) out.push_back({T, r.K, r.V, r.with_h0, r.gate});
  return out;
}

constexpr double kTol = 1e-10;  // fp64: the forms differ only by rounding

class DeltaRuleTable : public ::testing::TestWithParam<Case> {
 protected:
  DeltaInputs inputs() const {
    const Case c = GetParam();
    return make_delta(2, c.T, 2, c.K, c.V, c.with_h0, c.gate, torch::kFloat64,
                      2000 + c.T * 7 + c.K + c.V);
  }
};

TEST_P(DeltaRuleTable, ChunkedEqualsRecurrentWithGradients) {
  const Case c = GetParam();
  const auto in = inputs();
  const auto ref = recurrent(in.all());
  ASSERT_EQ(ref.o.sizes(), torch::IntArrayRef({2, c.T, 2, c.V}));
  ASSERT_EQ(ref.final_state.sizes(), torch::IntArrayRef({2, 2, c.K, c.V}));
  const auto ref_grads = grads(in, recurrent);
  ASSERT_EQ(ref_grads.size(), c.with_h0 ? 6u : 5u);
  for (int64_t chunk : {16, 32, 64}) {
    const std::string tag = "chunk " + std::to_string(chunk);
    const auto r = chunked(chunk)(in.all());
    expect_close(r.o, ref.o, kTol, tag + " o");
    expect_close(r.final_state, ref.final_state, kTol, tag + " final state");
    EXPECT_EQ(r.o.scalar_type(), torch::kFloat64);
    const auto got = grads(in, chunked(chunk));
    ASSERT_EQ(got.size(), ref_grads.size());
    for (size_t i = 0; i < got.size(); ++i)
      expect_close(got[i], ref_grads[i], kTol, tag + " " + kGradNames[i]);
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::ostringstream s;
  s << "T" << c.T << "_K" << c.K << "_V" << c.V << (c.with_h0 ? "_h0_" : "_") << gate_name(c.gate);
  return s.str();
}

INSTANTIATE_TEST_SUITE_P(Kernels, DeltaRuleTable, ::testing::ValuesIn(cases()), case_name);

// Central differences of the projected loss against autograd, element by
// element, for both forms; T = 7 over chunks of 4: two chunks, one padded.
TEST(DeltaRule, GradcheckOnTinyShape) {
  for (Gate gate : {Gate::kMixed, Gate::kStrong}) {
    const auto in = make_delta(1, 7, 2, 3, 2, true, gate, torch::kFloat64, 5);
    for (const auto& [name, form] :
         {std::pair<std::string, Form>{"chunked", chunked(4)}, {"recurrent", Form(recurrent)}}) {
      auto loss = [form = form](const std::vector<torch::Tensor>& x) {
        return projected(form(x), 99);
      };
      expect_gradcheck(loss, in.all(), name + " " + gate_name(gate));
    }
  }
}

// Packed sequences (an empty one, a single step, chunk-boundary neighbours)
// equal each sequence alone, outputs, states and gradients.
TEST(DeltaRule, CuSeqlensEqualsEachSequenceAlone) {
  const std::vector<int64_t> lengths = {5, 0, 63, 1, 33};
  std::vector<int64_t> cu = {0};
  for (int64_t n : lengths) cu.push_back(cu.back() + n);
  const int64_t N = lengths.size();
  const auto in = make_delta(1, cu.back(), 2, 8, 4, true, Gate::kMixed, torch::kFloat64, 11, N);
  auto packed = [&](const std::vector<torch::Tensor>& x) {
    LinearAttnOptions opt = options(16);
    opt.cu_seqlens = torch::tensor(cu, torch::kInt32);
    return delta_rule_chunked(x[0], x[1], x[2], x[3], x[4], x[5], opt);
  };
  auto separate = [&](const std::vector<torch::Tensor>& x) {
    std::vector<torch::Tensor> os, states;
    for (int64_t i = 0; i < N; ++i) {
      const auto h0 = x[5].narrow(0, i, 1);
      if (lengths[i] == 0) {
        states.push_back(h0);
        continue;
      }
      auto part = [&](const torch::Tensor& t) { return t.narrow(1, cu[i], lengths[i]); };
      auto r = delta_rule_reference_recurrent(part(x[0]), part(x[1]), part(x[2]), part(x[3]),
                                              part(x[4]), h0, 0.3);
      os.push_back(r.o);
      states.push_back(r.final_state);
    }
    return LinearAttnResult{torch::cat(os, 1), torch::cat(states, 0)};
  };
  const auto got = packed(in.all()), want = separate(in.all());
  expect_close(got.o, want.o, kTol, "o");
  expect_close(got.final_state, want.final_state, kTol, "state");
  const auto dg = grads(in, packed), dw = grads(in, separate);
  for (size_t i = 0; i < dw.size(); ++i) expect_close(dg[i], dw[i], kTol, kGradNames[i]);
}

// Generation: the step API chained over t reproduces the chunked op, in fp64
// and in fp32 (the state carried in fp32 as the op returns it).
TEST(DeltaRule, StepChainEqualsChunked) {
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const auto in = make_delta(2, 40, 2, 16, 8, true, Gate::kMixed, dtype, 13);
    LinearAttnOptions opt;
    opt.chunk_size = 16;
    const auto want = delta_rule_chunked(in.q, in.k, in.v, in.g, in.beta, in.h0, opt);
    torch::Tensor state = in.h0;
    std::vector<torch::Tensor> os;
    for (int64_t t = 0; t < 40; ++t) {
      auto r = delta_rule_step(in.q.select(1, t), in.k.select(1, t), in.v.select(1, t),
                               in.g.select(1, t), in.beta.select(1, t), state, -1.0);
      EXPECT_EQ(r.o.scalar_type(), dtype);
      state = r.final_state;
      os.push_back(r.o);
    }
    const double tol = dtype == torch::kFloat64 ? kTol : 1e-5;
    expect_close(torch::stack(os, 1), want.o, tol, "step o");
    expect_close(state, want.final_state, tol, "step state");
  }
  const auto one = make_delta(1, 1, 2, 4, 4, true, Gate::kWeak, torch::kFloat64, 14);
  auto step = [&](const torch::Tensor& s) {
    return delta_rule_step(one.q.select(1, 0), one.k.select(1, 0), one.v.select(1, 0),
                           one.g.select(1, 0), one.beta.select(1, 0), s, 0.5);
  };
  expect_close(step({}).final_state, step(torch::zeros_like(one.h0)).final_state, 0.0, "zeros",
               0.0);
}

// fp32 inputs over several chunks under strong and weak decay: the chunked
// form stays within fp32 rounding of the fp64 recurrence.
TEST(DeltaRule, Fp32MatchesFp64Reference) {
  for (Gate gate : {Gate::kStrong, Gate::kWeak}) {
    const auto in64 = make_delta(1, 200, 2, 32, 16, true, gate, torch::kFloat64, 15);
    auto in32 = in64;
    for (auto* t : {&in32.q, &in32.k, &in32.v, &in32.g, &in32.beta, &in32.h0})
      *t = t->to(torch::kFloat32);
    const auto ref = recurrent(in64.all());
    const auto got = chunked(64)(in32.all());
    EXPECT_EQ(got.o.scalar_type(), torch::kFloat32);
    expect_close(got.o, ref.o, 1e-5, std::string("o ") + gate_name(gate));
    expect_close(got.final_state, ref.final_state, 1e-5, std::string("state ") + gate_name(gate));
  }
}

TEST(DeltaRule, RejectsBadBeta) {
  const auto in = make_delta(1, 5, 2, 4, 4, false, Gate::kWeak, torch::kFloat64, 16);
  EXPECT_THROW(delta_rule_chunked(in.q, in.k, in.v, in.g, in.beta.narrow(1, 0, 4), {}), c10::Error);
  EXPECT_THROW(delta_rule_recurrent(in.q, in.k, in.v, in.g, torch::Tensor(), {}), c10::Error);
}

}  // namespace
}  // namespace scalelab::kernels::test
