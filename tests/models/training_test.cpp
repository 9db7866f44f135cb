// Training: every architecture learns (overfits a fixed batch), and a
// deterministic 20-step run matches its golden losses (tests/golden/<arch>.txt).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/models/test_util.h"

namespace scalelab::models {
namespace {

using testing::make_model;
using testing::random_tokens;

// Losses of STEPS AdamW steps on one fixed batch (next-token prediction);
// every weight is first scaled by 1 + PERTURB (0: as initialised).
std::vector<double> train_losses(const std::string& descriptor, int steps, double lr,
                                 double perturb = 0) {
  torch::manual_seed(0);
  auto m = make_model(descriptor, 0);
  if (perturb != 0) {
    torch::NoGradGuard no_grad;
    for (auto& p : m->parameters()) p.mul_(1 + perturb);
  }
  auto batch = random_tokens(4, 33, m->spec().vocab, 1234);
  auto inputs = batch.narrow(1, 0, 32), targets = batch.narrow(1, 1, 32);
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(lr).weight_decay(0.0));
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    auto logits = m->forward(inputs);
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                     targets.reshape({-1}));
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

TEST(Training, EveryArchitectureOverfitsAFixedBatch) {
  for (const auto& d : testing::tiny_archs()) {
    SCOPED_TRACE(d);
    const auto losses = train_losses(d, 200, 1e-2);
    EXPECT_NEAR(losses.front(), std::log(64.0), 0.3);  // near-uniform at init
    EXPECT_LT(losses.back(), 0.5 * losses.front());
  }
}

// Golden losses: a regression in any mixer, the init or the decoder moves
// them by far more than this tolerance, while rounding differences between
// CPUs (AVX2 vs AVX-512 kernels) must not. At lr 1e-2 the 8-layer hybrid was
// chaotic: a 1e-7 relative change of its weights grew to 5e-2 in the loss by
// step 19 (it failed on an Intel machine against AMD goldens); at 3e-3 it
// still grew to 7e-4 on another Intel machine (2026-12-02). At 1e-3 every run
// stays well within a quarter of the tolerance of the perturbed one, which
// GoldenRunsAreWellConditioned keeps true (it prints the margin).
constexpr double kGoldenTolerance = 1e-3;
constexpr double kGoldenLr = 1e-3;
constexpr int kGoldenSteps = 20;

struct Golden {
  std::string name;
  std::string descriptor;
};
// Every registered mixer's tiny model (tests/golden/<mixer>.txt), and the
// 7:1 hybrid.
std::vector<Golden> goldens() {
  std::vector<Golden> g;
  for (spec::MixerKind m : spec::mixers()) g.push_back({m->name, testing::tiny_descriptor(m)});
  g.push_back({"hybrid", "hybrid(lightning,softmax@7:1):L8:d32:h4:v64"});
  return g;
}

std::string golden_path(const std::string& name) {
  return std::string(SCALELAB_SOURCE_DIR) + "/tests/golden/" + name + ".txt";
}

// SCALELAB_UPDATE_GOLDEN=1 rewrites the files (after an intended change).
void write_golden(const Golden& g, const std::vector<double>& losses) {
  std::ofstream out(golden_path(g.name));
  out << "# " << g.descriptor << ": seed 0, batch 4x32 random tokens (seed 1234), AdamW lr "
      << kGoldenLr << ",\n"
      << "# no weight decay, CPU fp32; checked to +-" << kGoldenTolerance
      << " by tests/models/training_test.cpp\n";
  out.precision(8);
  for (size_t i = 0; i < losses.size(); ++i) out << i << " " << losses[i] << "\n";
}

std::vector<double> read_golden(const Golden& g) {
  std::ifstream in(golden_path(g.name));
  EXPECT_TRUE(in.good()) << "missing " << golden_path(g.name);
  std::vector<double> losses;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream row(line);
    size_t step;
    double loss;
    EXPECT_TRUE(static_cast<bool>(row >> step >> loss)) << "bad line: " << line;
    EXPECT_EQ(step, losses.size()) << "steps must be 0, 1, 2, ...";
    losses.push_back(loss);
  }
  return losses;
}

TEST(Training, GoldenLosses) {
  const bool update = std::getenv("SCALELAB_UPDATE_GOLDEN") != nullptr;
  for (const Golden& g : goldens()) {
    SCOPED_TRACE(g.name);
    const auto losses = train_losses(g.descriptor, kGoldenSteps, kGoldenLr);
    if (update) write_golden(g, losses);
    const auto want = read_golden(g);
    ASSERT_EQ(want.size(), losses.size());
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(losses[i], want[i], kGoldenTolerance) << "step " << i;
  }
}

// A golden run is a regression test only if it is reproducible: perturbing
// every weight by one part in 10^7 (about one float ulp, what another CPU's
// rounding does) must move no loss by more than a quarter of the tolerance.
TEST(Training, GoldenRunsAreWellConditioned) {
  for (const Golden& g : goldens()) {
    SCOPED_TRACE(g.name);
    const auto a = train_losses(g.descriptor, kGoldenSteps, kGoldenLr);
    const auto b = train_losses(g.descriptor, kGoldenSteps, kGoldenLr, 1e-7);
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i], b[i], kGoldenTolerance / 4) << "step " << i;
      worst = std::max(worst, std::abs(a[i] - b[i]));
    }
    std::printf("%s: a 1e-7 weight perturbation moves the losses by %.2e at most\n", g.name.c_str(),
                worst);
  }
}

}  // namespace
}  // namespace scalelab::models
