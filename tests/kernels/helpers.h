// Shared by the kernel tests: the two op families behind one interface, random
// inputs with a chosen decay regime, relative-RMS comparisons, and a
// finite-difference gradient check (LibTorch has no C++ gradcheck).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels::test {

using OpFn = LinearAttnResult (*)(const torch::Tensor&, const torch::Tensor&,
                                  const torch::Tensor&, const torch::Tensor&,
                                  const torch::Tensor&, const LinearAttnOptions&);
using RefFn = LinearAttnResult (*)(const torch::Tensor&, const torch::Tensor&,
                                   const torch::Tensor&, const torch::Tensor&,
                                   const torch::Tensor&, double);
using StepFn = LinearAttnResult (*)(const torch::Tensor&, const torch::Tensor&,
                                    const torch::Tensor&, const torch::Tensor&,
                                    const torch::Tensor&, double);

// One kernel family: its public ops, its naive forms, and its gate shape.
struct Family {
  std::string name;
  bool vector_gate;  // g [B,T,H,K] (vector) or [B,T,H] (scalar)
  OpFn chunked, recurrent;
  RefFn reference_recurrent, reference_quadratic;
  StepFn step;
};
const Family& scalar_family();
const Family& vector_family();

// Decay regimes: weak (g in [-0.05, 0]: long memory), strong (g in
// [-5.5, -4.5]: a state forgets within a few steps, the case that overflows a
// naively folded chunk), mixed (g in [-5, 0]).
enum class Gate { kWeak, kStrong, kMixed };
const char* gate_name(Gate gate);

struct Inputs {
  torch::Tensor q, k, v, g, h0;  // h0 undefined when not asked for
};
// Random inputs [B,T,H,K] etc. in DTYPE, seeded by SEED.
Inputs make_inputs(const Family& f, int64_t B, int64_t T, int64_t H, int64_t K, int64_t V,
                   bool with_h0, Gate gate, torch::ScalarType dtype, uint64_t seed,
                   int64_t n_states = -1);

// rms(a - ref) / rms(ref); 0 when both are exactly zero.
double rel_rms(const torch::Tensor& a, const torch::Tensor& ref);

// a == ref within a relative RMS of RTOL; an all-zero reference (e.g. the
// gradient of g at t = 0 with no initial state) must be matched to ABS_FLOOR.
void expect_close(const torch::Tensor& a, const torch::Tensor& ref, double rtol,
                  const std::string& what, double abs_floor = 1e-13);

// Gradients of a random projection of (o, final_state), the same projection
// for every form, w.r.t. q, k, v, g and (if defined) h0, in that order.
std::vector<torch::Tensor> gradients(const Inputs& in,
                                     const std::function<LinearAttnResult(const Inputs&)>& form,
                                     uint64_t seed);

// Finite-difference gradient check in fp64, as torch.autograd.gradcheck does
// it: central differences of the scalar LOSS (with step EPS) against autograd,
// element by element of every input; |num - ana| <= ATOL + RTOL |num|.
void expect_gradcheck(const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& loss,
                      const std::vector<torch::Tensor>& inputs, const std::string& what,
                      double eps = 1e-6, double atol = 1e-6, double rtol = 1e-4);

}  // namespace scalelab::kernels::test
