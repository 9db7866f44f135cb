// Finite-difference gradient checks of both families' chunked forms (and the
// naive forms they are compared with) on tiny fp64 shapes: the table tests
// show the forms agree, these show the shared gradient is the true one.
#include <gtest/gtest.h>

#include "tests/kernels/helpers.h"

namespace scalelab::kernels::test {
namespace {

// Loss = <o, Wo> + <S_T, Ws> for fixed random W: every output and every
// state entry contributes, so no gradient path goes unchecked.
std::function<torch::Tensor(const std::vector<torch::Tensor>&)> projected_loss(
    const std::function<LinearAttnResult(const std::vector<torch::Tensor>&)>& form,
    const std::vector<torch::Tensor>& inputs) {
  torch::NoGradGuard no_grad;
  const auto r = form(inputs);
  torch::manual_seed(99);
  const auto wo = torch::randn(r.o.sizes(), r.o.options());
  const auto ws = torch::randn(r.final_state.sizes(), r.final_state.options());
  return [form, wo, ws](const std::vector<torch::Tensor>& x) {
    const auto r = form(x);
    return (r.o * wo).sum() + (r.final_state * ws).sum();
  };
}

void gradcheck_family(const Family& f, int64_t T, int64_t chunk, Gate gate) {
  // H = 2 and B = 1 keep it to a few hundred elements; K != V.
  const auto in = make_inputs(f, 1, T, 2, 3, 2, true, gate, torch::kFloat64, 5);
  const std::vector<torch::Tensor> x = {in.q, in.k, in.v, in.g, in.h0};
  auto chunked = [&](const std::vector<torch::Tensor>& a) {
    LinearAttnOptions opt;
    opt.chunk_size = chunk;
    return f.chunked(a[0], a[1], a[2], a[3], a[4], opt);
  };
  auto recurrent = [&](const std::vector<torch::Tensor>& a) {
    return f.recurrent(a[0], a[1], a[2], a[3], a[4], {});
  };
  auto quadratic = [&](const std::vector<torch::Tensor>& a) {
    return f.reference_quadratic(a[0], a[1], a[2], a[3], a[4], 0.5);
  };
  const std::string tag = f.name + " T" + std::to_string(T) + " " + gate_name(gate);
  expect_gradcheck(projected_loss(chunked, x), x, tag + " chunk " + std::to_string(chunk));
  expect_gradcheck(projected_loss(recurrent, x), x, tag + " recurrent");
  expect_gradcheck(projected_loss(quadratic, x), x, tag + " quadratic");
}

// T = 7 over chunks of 4: two chunks, the second padded.
TEST(Gradcheck, ScalarDecay) {
  gradcheck_family(scalar_family(), 7, 4, Gate::kMixed);
  gradcheck_family(scalar_family(), 7, 4, Gate::kStrong);
}

// T = 21 over chunks of 20 (sub-blocks of 10): off-diagonal sub-blocks, the
// diagonal ones and a padded second chunk all take part.
TEST(Gradcheck, VectorDecay) {
  gradcheck_family(vector_family(), 21, 20, Gate::kMixed);
  gradcheck_family(vector_family(), 21, 20, Gate::kStrong);
}

}  // namespace
}  // namespace scalelab::kernels::test
