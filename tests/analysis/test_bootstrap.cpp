// Bootstrap intervals: quantiles, determinism, and coverage near the nominal
// rate in a repeated synthetic experiment.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "analysis/bootstrap.h"
#include "analysis/fits.h"
#include "analysis/powerlaw.h"
#include "tests/analysis/synthetic.h"

namespace scalelab::analysis {
namespace {

TEST(Bootstrap, QuantileInterpolatesLikeNumpy) {
  const std::vector<double> v = {4, 1, 3, 2, 5};
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 3);
  EXPECT_DOUBLE_EQ(quantile(v, 0.1), 1.4);  // numpy.quantile([1..5], 0.1)
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 5);
  EXPECT_TRUE(std::isnan(quantile({}, 0.5)));
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(quantile({1, inf, inf, inf}, 0.9), inf);  // a multiplier softmax never reaches
}

TEST(Bootstrap, StudentTAndNormalQuantiles) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062047, 1e-6);  // tables
  EXPECT_NEAR(student_t_quantile(0.975, 3), 3.1824463, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 19), 2.0930241, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.05, 10), -1.8124611, 1e-6);
  EXPECT_NEAR(student_t_cdf(0, 7), 0.5, 1e-15);
  EXPECT_NEAR(normal_quantile(0.975), 1.959963985, 1e-9);
  EXPECT_NEAR(normal_quantile(1e-6), -4.753424309, 1e-8);
  EXPECT_NEAR(normal_cdf(normal_quantile(0.3)), 0.3, 1e-14);
  // 20 units: sqrt(20/19) t_19 = 2.147 -> 1.59% tails; 1,000 units: nominal.
  EXPECT_NEAR(expanded_tail(0.95, 20), 0.0159, 2e-4);
  EXPECT_NEAR(expanded_tail(0.95, 1000), 0.025, 2e-4);
}

// BCa on a skewed statistic: centred on the estimate, not on the replicates.
TEST(Bootstrap, BcaIntervalContainsTheEstimateWhereThePercentileDoesNot) {
  std::vector<double> samples;
  for (int i = 0; i < 200; ++i) samples.push_back(1.0 + 0.01 * i);  // replicates above 1.0...
  const double estimate = 1.05;  // ...while the estimate sits in their lowest 3%
  EXPECT_GT(quantile(samples, 0.025), 1.0);  // the percentile interval starts at 1.05
  const Interval iv = bca_interval(samples, estimate, {}, 0.95, 1000);
  EXPECT_LE(iv.lo, estimate);
  EXPECT_GE(iv.hi, estimate);
  const Interval one_sided = bca_interval(samples, 0.5, {}, 0.95, 1000);
  EXPECT_TRUE(std::isnan(one_sided.lo));
  EXPECT_NE(one_sided.note.find("one side of the estimate"), std::string::npos);
}

TEST(Bootstrap, ClustersAreResampledWhole) {
  // Points 0-2 are one parent's branches, 3 and 4 plain runs.
  const std::vector<int> strata(5, 0), clusters = {7, 7, 7, 1, 2};
  const Refit count = [](const std::vector<size_t>& idx) {
    double first = 0, second = 0;
    for (size_t i : idx) first += i == 0, second += i == 1;
    return std::vector<double>{first - second, static_cast<double>(idx.size())};
  };
  const BootstrapResult r = bootstrap(strata, clusters, 2, count, {100, 3, 0.95, 1});
  EXPECT_EQ(r.ok, 100);
  for (double v : r.samples[0]) EXPECT_EQ(v, 0);  // branches 0 and 1 always travel together
  double sizes = 0;
  for (double v : r.samples[1]) sizes += v;
  EXPECT_GT(sizes / 100, 4.0);  // 3 draws of clusters of 3, 1, 1 points: 5 on average
}

TEST(Bootstrap, SameSeedSameIntervalsForAnyThreadCount) {
  std::vector<double> x = testing::logspace(1, 1000, 15), y;
  for (double v : x) y.push_back(3 * std::pow(v, -0.3) * (1 + 0.01 * std::sin(v)));
  const Refit slope = [&](const std::vector<size_t>& idx) {
    std::vector<double> xs, ys;
    for (size_t i : idx) xs.push_back(x[i]), ys.push_back(y[i]);
    return std::vector<double>{fit_power_law(xs, ys, false).alpha};
  };
  const std::vector<int> strata(x.size(), 0);
  BootstrapOptions o{300, 42, 0.9, 1};
  const BootstrapResult one = bootstrap(strata, 1, slope, o);
  o.threads = 3;
  const BootstrapResult three = bootstrap(strata, 1, slope, o);
  EXPECT_EQ(one.ok, 300);
  EXPECT_EQ(one.lo, three.lo);
  EXPECT_EQ(one.hi, three.hi);
  EXPECT_LT(one.lo[0], one.hi[0]);
  EXPECT_NEAR(one.lo[0], 0.3, 0.01);
  EXPECT_NEAR(one.hi[0], 0.3, 0.01);
}

TEST(Bootstrap, StrataKeepTheirSizes) {
  const std::vector<int> strata = {0, 0, 0, 1, 1};
  const Refit count = [&](const std::vector<size_t>& idx) {
    double in0 = 0;
    for (size_t i : idx) in0 += strata[i] == 0;
    return std::vector<double>{in0};
  };
  const BootstrapResult r = bootstrap(strata, 1, count, {50, 1, 0.95, 1});
  EXPECT_EQ(r.lo[0], 3);
  EXPECT_EQ(r.hi[0], 3);
}

// 200 synthetic experiments of a 20-run L(C) sweep; in each, a 95% interval
// for alpha from 200 replicates. The interval must cover the true alpha in
// roughly 95% of experiments: a binomial(200, 0.95) lies in [0.88, 0.99] with
// probability > 0.999; percentile intervals of small samples run a little
// narrow, which the lower bound allows.
TEST(Bootstrap, CoverageNearNominalInRepeatedExperiment) {
  const double alpha = 0.12, A = 80.0;
  const std::vector<double> c = testing::logspace(1e15, 1e19, 20);
  std::mt19937_64 rng(2024);
  std::normal_distribution<double> z(0, 0.01);
  int covered = 0;
  const int experiments = 200;
  for (int e = 0; e < experiments; ++e) {
    std::vector<double> y;
    for (double v : c) y.push_back(A * std::pow(v, -alpha) * std::exp(z(rng)));
    const Refit refit = [&](const std::vector<size_t>& idx) {
      std::vector<double> xs, ys;
      for (size_t i : idx) xs.push_back(c[i]), ys.push_back(y[i]);
      return std::vector<double>{fit_power_law(xs, ys, false).alpha};
    };
    const BootstrapResult r =
        bootstrap(std::vector<int>(c.size(), 0), 1, refit, {200, uint64_t(e) + 1, 0.95, 1});
    covered += r.lo[0] <= alpha && alpha <= r.hi[0];
  }
  const double rate = double(covered) / experiments;
  EXPECT_GE(rate, 0.88);
  EXPECT_LE(rate, 0.99);
  RecordProperty("coverage", std::to_string(rate));
}

// The E of L(C) = E + A C^-alpha, through fit_kaplan's own bootstrap: the
// 95% interval covers the truth in most of 40 experiments.
TEST(Bootstrap, KaplanIntervalsCoverE) {
  testing::SweepSpec s;
  s.sizes = testing::logspace(1e6, 1e9, 10);
  s.tokens_per_n = {20};
  s.law = {1.8, 300.0, 300.0, 0.3, 0.3};
  s.noise = 0.005;
  FitOptions opt;
  opt.bootstrap = 100;
  opt.threads = 1;
  int covered = 0;
  for (int e = 0; e < 40; ++e) {
    s.seed = static_cast<uint64_t>(100 + e);
    const std::vector<RunPoint> runs = testing::make_sweep(s);
    // Truth for L(C) along D = 20 N: loss is exactly E + (A'+B') C^-x only
    // when alpha = beta, which is why both are 0.3 here.
    opt.seed = static_cast<uint64_t>(e);
    const FitResult f = fit_kaplan(runs, 'c', true, "x", opt);
    const Estimate* E = f.find_param("E");
    ASSERT_NE(E, nullptr);
    EXPECT_GE(f.bootstrap_ok, 95);
    covered += E->lo <= 1.8 && 1.8 <= E->hi;
  }
  EXPECT_GE(covered, 32);  // nominal 38 of 40
}

}  // namespace
}  // namespace scalelab::analysis

namespace scalelab::analysis {
namespace {

// With as many runs as parameters the law passes through every run: no fit.
// With one run more, most resamples repeat a run and cannot be refitted; the
// few that can are nearly the original sample, so their spread would be a
// falsely narrow interval: the fit is given without one, and says why. With
// enough runs it gets a real one, containing its estimate.
TEST(BootstrapIntervals, OmittedWhenTheRunsCannotIdentifyThem) {
  testing::SweepSpec s;
  s.law = {1.7, 400.0, 1e-9, 0.34, 0.28};
  s.tokens_per_n = {20.0};
  s.noise = 0.01;
  FitOptions opt;
  opt.bootstrap = 200;
  opt.threads = 1;

  s.sizes = testing::logspace(1e6, 1e8, 3);
  try {
    fit_kaplan(testing::make_sweep(s), 'c', true, "softmax", opt);
    FAIL() << "a law through every point is not a fit";
  } catch (const FitError& e) {
    EXPECT_NE(std::string(e.what()).find("no residual degrees of freedom: 3 distinct compute "
                                         "budgets for 3 parameters"),
              std::string::npos)
        << e.what();
  }

  s.sizes = testing::logspace(1e6, 1e8, 4);
  const FitResult few = fit_kaplan(testing::make_sweep(s), 'c', true, "softmax", opt);
  ASSERT_TRUE(few.extra.contains("interval_note"));
  EXPECT_NE(few.extra["interval_note"].get<std::string>().find("(4 runs for 3 parameters)"),
            std::string::npos)
      << few.extra["interval_note"];
  for (const Estimate& e : few.params) {
    EXPECT_TRUE(std::isnan(e.lo)) << e.name;
    EXPECT_TRUE(std::isnan(e.hi)) << e.name;
  }

  s.sizes = testing::logspace(1e6, 1e8, 10);
  const FitResult many = fit_kaplan(testing::make_sweep(s), 'c', true, "softmax", opt);
  EXPECT_FALSE(many.extra.contains("interval_note")) << many.extra["interval_note"];
  for (const auto* list : {&many.params, &many.derived})
    for (const Estimate& e : *list) {
      EXPECT_LT(e.lo, e.hi) << e.name;
      EXPECT_LE(e.lo, e.value) << e.name;
      EXPECT_GE(e.hi, e.value) << e.name;
    }
}

}  // namespace
}  // namespace scalelab::analysis
