#include "tests/kernels/helpers.h"

#include <cmath>

#include "kernels/scalar_decay/op.h"
#include "kernels/scalar_decay/reference.h"
#include "kernels/vector_decay/op.h"
#include "kernels/vector_decay/reference.h"

namespace scalelab::kernels::test {

namespace {
// The test shapes are tiny: intra-op threads only add synchronisation, and
// under a loaded 2-core CI machine they made the suite 4x slower.
class SingleThreaded : public ::testing::Environment {
 public:
  void SetUp() override { torch::set_num_threads(1); }
};
[[maybe_unused]] auto* const kSingleThreaded =
    ::testing::AddGlobalTestEnvironment(new SingleThreaded);
}  // namespace

const Family& scalar_family() {
  static const Family f{"scalar_decay",
                        false,
                        &scalar_decay_chunked,
                        &scalar_decay_recurrent,
                        &scalar_decay_reference_recurrent,
                        &scalar_decay_reference_quadratic,
                        &scalar_decay_step};
  return f;
}

const Family& vector_family() {
  static const Family f{"vector_decay",
                        true,
                        &vector_decay_chunked,
                        &vector_decay_recurrent,
                        &vector_decay_reference_recurrent,
                        &vector_decay_reference_quadratic,
                        &vector_decay_step};
  return f;
}

const char* gate_name(Gate gate) {
  switch (gate) {
    case Gate::kWeak: return "weak";
    case Gate::kStrong: return "strong";
    case Gate::kMixed: return "mixed";
  }
  return "?";
}

Inputs make_inputs(const Family& f, int64_t B, int64_t T, int64_t H, int64_t K, int64_t V,
                   bool with_h0, Gate gate, torch::ScalarType dtype, uint64_t seed,
                   int64_t n_states) {
  torch::manual_seed(seed);
  const auto opts = torch::dtype(torch::kFloat64);
  Inputs in;
  in.q = torch::randn({B, T, H, K}, opts);
  in.k = torch::randn({B, T, H, K}, opts);
  in.v = torch::randn({B, T, H, V}, opts);
  std::vector<int64_t> gshape = {B, T, H};
  if (f.vector_gate) gshape.push_back(K);
  auto u = torch::rand(gshape, opts);
  switch (gate) {
    case Gate::kWeak: in.g = -0.05 * u; break;
    case Gate::kStrong: in.g = -4.5 - u; break;
    case Gate::kMixed: in.g = -5.0 * u; break;
  }
  if (with_h0) in.h0 = torch::randn({n_states < 0 ? B : n_states, H, K, V}, opts);
  for (auto* t : {&in.q, &in.k, &in.v, &in.g, &in.h0}) {
    if (t->defined()) *t = t->to(dtype);
  }
  return in;
}

double rel_rms(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto a64 = a.to(torch::kFloat64), r64 = ref.to(torch::kFloat64);
  const double err = (a64 - r64).square().mean().sqrt().item<double>();
  const double norm = r64.square().mean().sqrt().item<double>();
  if (norm == 0.0) return err == 0.0 ? 0.0 : INFINITY;
  return err / norm;
}

void expect_close(const torch::Tensor& a, const torch::Tensor& ref, double rtol,
                  const std::string& what, double abs_floor) {
  ASSERT_TRUE(a.defined()) << what << ": undefined";
  ASSERT_EQ(a.sizes(), ref.sizes()) << what;
  ASSERT_TRUE(torch::isfinite(a).all().item<bool>()) << what << ": not finite";
  const auto a64 = a.to(torch::kFloat64), r64 = ref.to(torch::kFloat64);
  const double err = (a64 - r64).square().mean().sqrt().item<double>();
  const double norm = r64.square().mean().sqrt().item<double>();
  EXPECT_LE(err, rtol * norm + abs_floor)
      << what << ": relative RMS error " << rel_rms(a, ref) << " (rms diff " << err << ", rms ref "
      << norm << ")";
}

std::vector<torch::Tensor> gradients(const Inputs& in,
                                     const std::function<LinearAttnResult(const Inputs&)>& form,
                                     uint64_t seed) {
  Inputs x;
  std::vector<torch::Tensor> leaves;
  for (auto [src, dst] : {std::pair{&in.q, &x.q}, {&in.k, &x.k}, {&in.v, &x.v}, {&in.g, &x.g},
                          {&in.h0, &x.h0}}) {
    if (!src->defined()) continue;
    *dst = src->detach().clone().requires_grad_(true);
    leaves.push_back(*dst);
  }
  auto r = form(x);
  torch::manual_seed(seed);
  auto wo = torch::randn(r.o.sizes(), r.o.options());
  auto ws = torch::randn(r.final_state.sizes(), r.final_state.options());
  auto loss = (r.o * wo).sum() + (r.final_state * ws).sum();
  return torch::autograd::grad({loss}, leaves);
}

void expect_gradcheck(const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& loss,
                      const std::vector<torch::Tensor>& inputs, const std::string& what,
                      double eps, double atol, double rtol) {
  std::vector<torch::Tensor> x;
  for (const auto& t : inputs) {
    x.push_back(t.detach().clone().to(torch::kFloat64).requires_grad_(true));
  }
  const auto analytic = torch::autograd::grad({loss(x)}, x);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> probe;
  for (const auto& t : x) probe.push_back(t.detach().clone().contiguous());
  for (size_t i = 0; i < probe.size(); ++i) {
    double* p = probe[i].data_ptr<double>();
    const auto ana = analytic[i].contiguous();
    const double* a = ana.data_ptr<double>();
    for (int64_t j = 0; j < probe[i].numel(); ++j) {
      const double saved = p[j];
      p[j] = saved + eps;
      const double up = loss(probe).item<double>();
      p[j] = saved - eps;
      const double down = loss(probe).item<double>();
      p[j] = saved;
      const double num = (up - down) / (2 * eps);
      ASSERT_LE(std::abs(num - a[j]), atol + rtol * std::abs(num))
          << what << ": input " << i << " element " << j << ": numeric " << num
          << " vs autograd " << a[j];
    }
  }
}

}  // namespace scalelab::kernels::test
