// Kaplan-style laws: recovery from noisy synthetic data and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "analysis/fits.h"
#include "analysis/powerlaw.h"
#include "tests/analysis/synthetic.h"

namespace scalelab::analysis {
namespace {

using testing::logspace;

struct Truth {
  double E, A, alpha;
  double operator()(double x) const { return E + A * std::pow(x, -alpha); }
};

std::vector<double> noisy(const Truth& t, const std::vector<double>& x, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, sd);
  std::vector<double> y;
  for (double v : x) y.push_back(t(v) * std::exp(z(rng)));
  return y;
}

// Issue 3: L(C) = E + A C^-alpha recovers E, A, alpha within 2% from noisy
// points (0.1% log-normal noise, 100 budgets, 10 seeds). A in FLOP units is the
// touchy one: dA/A = ln(C) dalpha ~ 41 dalpha at 1e18, so 2% on A needs
// alpha to 0.05% absolute; with 0.2% noise or 40 points it misses (measured).
TEST(PowerLaw, RecoversLossVsComputeWithin2Percent) {
  const Truth t{1.8, 2000.0, 0.2};  // loss 4.6 at 1e15 FLOPs down to 1.9 at 1e21
  const std::vector<double> c = logspace(1e15, 1e21, 100);
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const PowerLaw f = fit_power_law(c, noisy(t, c, 0.001, seed), true);
    EXPECT_NEAR(f.E, t.E, 0.02 * t.E) << "seed " << seed;
    EXPECT_NEAR(f.A, t.A, 0.02 * t.A) << "seed " << seed;
    EXPECT_NEAR(f.alpha, t.alpha, 0.02 * t.alpha) << "seed " << seed;
    EXPECT_LT(f.rms_log_residual, 0.002);
  }
}

TEST(PowerLaw, WithoutIrreducibleLoss) {
  const Truth t{0.0, 12.0, 0.076};  // Kaplan's L(N) exponent
  const std::vector<double> n = logspace(1e6, 1e10, 12);
  const PowerLaw f = fit_power_law(n, noisy(t, n, 0.003, 3), false);
  EXPECT_EQ(f.E, 0.0);
  EXPECT_NEAR(f.alpha, t.alpha, 0.02 * t.alpha);
  EXPECT_NEAR(f.A, t.A, 0.05 * t.A);
}

TEST(PowerLaw, InverseUndoesTheLaw) {
  const PowerLaw f{1.5, 300.0, 0.3, true, 0};
  for (double c : {1e12, 1e16, 1e20}) EXPECT_NEAR(f.inverse(f(c)) / c, 1.0, 1e-9);
  EXPECT_TRUE(std::isinf(f.inverse(1.5)));
  EXPECT_TRUE(std::isinf(f.inverse(1.0)));
}

TEST(PowerLaw, RefusesDegenerateData) {
  EXPECT_THROW(fit_power_law({1e18, 1e18, 1e18}, {3, 3.1, 2.9}, true), FitError);
  EXPECT_THROW(fit_power_law({1e17, 1e18}, {3, 2.5}, true), FitError);  // 2 points, 3 params
  EXPECT_THROW(fit_power_law({1e17, 1e18, 1e19}, {2.5, 2.7, 3.0}, true), FitError);  // rising
  EXPECT_THROW(fit_power_law({1e17, 1e18, 1e19}, {3.0, NAN, 2.0}, true), FitError);
  EXPECT_THROW(fit_power_law({1e17, -1e18, 1e19}, {3.0, 2.5, 2.0}, false), FitError);
  try {
    fit_power_law({5, 5, 5, 5}, {3, 2, 1, 2}, false);
    FAIL();
  } catch (const FitError& e) {
    EXPECT_NE(std::string(e.what()).find("all runs are equal"), std::string::npos) << e.what();
  }
}

// L(N) from the lowest loss of each size, and L(D) from the lowest loss of
// each token count, through the same entry point the CLI uses.
TEST(Kaplan, LossVsParamsAndTokens) {
  testing::SweepSpec s;
  // D so large that the B/D^beta term is ~0.001: the loss is E + A/N^alpha.
  s.law = {1.7, 400.0, 1e-9, 0.34, 0.28};
  s.sizes = logspace(1e6, 1e9, 8);
  s.tokens_per_n = {1000.0, 2000.0};
  s.noise = 0.001;
  FitOptions opt;
  opt.bootstrap = 0;
  const FitResult n = fit_kaplan(testing::make_sweep(s), 'n', true, "softmax", opt);
  EXPECT_EQ(n.method, "kaplan_n");
  EXPECT_EQ(n.n_points, 16);
  EXPECT_NEAR(n.param("E"), 1.7, 0.02 * 1.7);
  EXPECT_NEAR(n.param("alpha"), 0.34, 0.02 * 0.34);

  s.law = {1.7, 1e-9, 410.0, 0.34, 0.28};  // now only D matters
  s.sizes = {1e8};
  s.tokens_per_n = logspace(1, 1000, 8);
  const FitResult d = fit_kaplan(testing::make_sweep(s), 'd', true, "softmax", opt);
  EXPECT_NEAR(d.param("E"), 1.7, 0.02 * 1.7);
  EXPECT_NEAR(d.param("alpha"), 0.28, 0.02 * 0.28);
  EXPECT_NEAR(d.param("A") / 410.0, 1.0, 0.1);
}

}  // namespace
}  // namespace scalelab::analysis

namespace scalelab::analysis {
namespace {

RunPoint at(const std::string& arch, double c, double loss, int i) {
  RunPoint r;
  r.id = arch + std::to_string(i);
  r.arch = arch;
  r.n = r.n_total = 1e6 * (i + 1);
  r.d = c / (6 * r.n);
  r.c = c;
  r.loss = loss;
  return r;
}

// An architecture whose loss at C equals softmax's at 2C needs half the
// compute: the multiplier must be 2 at every budget, with a tight interval.
TEST(Compare, MultiplierOfAShiftedLawIsTwo) {
  const Truth soft{1.7, 900.0, 0.15};
  std::vector<RunPoint> s, x;
  int i = 0;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0, 0.001);
  for (double c : testing::logspace(1e15, 1e19, 12)) {
    s.push_back(at("softmax", c, soft(c) * std::exp(z(rng)), i));
    x.push_back(at("lightning", c, soft(2 * c) * std::exp(z(rng)), i++));
  }
  FitOptions opt;
  opt.bootstrap = 100;
  opt.budgets = {1e16, 1e18};
  const FitResult f = fit_compare(x, s, "lightning", opt);
  ASSERT_EQ(f.derived.size(), 6u);  // loss, baseline_loss, multiplier per budget
  for (const Estimate& e : f.derived) {
    if (e.name != "multiplier") continue;
    EXPECT_NEAR(e.value, 2.0, 0.1) << e.at;
    EXPECT_LE(e.lo, e.value);
    EXPECT_GE(e.hi, e.value);
    EXPECT_LT(e.hi - e.lo, 0.5);
  }
}

// Two architectures of two sizes each (issue 14: this pooled them into one
// L(C) through 2 points, rms residual 1e-16, with an interval whose edge was
// its estimate). Now no architecture gets a law without residual degrees of
// freedom, nothing is pooled unless asked, and the notes say why.
TEST(Compare, NoFitWithoutResidualDegreesOfFreedomAndNoPoolingUnlessAsked) {
  const Truth t{1.7, 900.0, 0.15};
  std::vector<RunPoint> runs;
  int i = 0;
  for (const char* arch : {"softmax", "lightning"})
    for (double c : {1e15, 1e16}) runs.push_back(at(arch, c * (i + 1), t(c * (i + 1)), i)), ++i;
  FitOptions opt;
  opt.bootstrap = 0;
  opt.methods = {"kaplan"};
  const FitSuite s = run_fits(runs, opt);
  EXPECT_TRUE(s.fits.empty());
  std::string notes;
  for (const std::string& n : s.notes) notes += n + "\n";
  EXPECT_NE(notes.find("kaplan_c0 [softmax]: skipped: no residual degrees of freedom: 2 distinct "
                       "compute budgets for 2 parameters"),
            std::string::npos)
      << notes;
  EXPECT_EQ(notes.find("pooled"), std::string::npos) << notes;
  opt.pool = true;
  const FitSuite pooled = run_fits(runs, opt);
  ASSERT_EQ(pooled.fits.size(), 2u);
  EXPECT_EQ(pooled.fits[0].method, "kaplan_c");
  EXPECT_EQ(pooled.fits[0].arch, "");
  EXPECT_NEAR(pooled.fits[0].param("alpha"), 0.15, 0.01);
}

}  // namespace
}  // namespace scalelab::analysis
