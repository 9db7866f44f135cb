#include "tests/analysis/synthetic.h"

#include <fmt/format.h>

#include <cmath>
#include <random>

#include "db/db.h"

namespace scalelab::analysis::testing {

std::vector<double> logspace(double lo, double hi, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i)
    out.push_back(std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / std::max(1, n - 1)));
  return out;
}

std::vector<RunPoint> make_sweep(const SweepSpec& s) {
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<RunPoint> out;
  for (double n : s.sizes)
    for (double ratio : s.tokens_per_n) {
      RunPoint r;
      r.arch = s.arch;
      r.n = r.n_total = std::round(n);
      r.d = std::round(ratio * n);
      r.c = 6 * r.n * r.d;
      r.id = fmt::format("{}-{:.0f}-{:.0f}", s.arch, r.n, r.d);
      r.name = fmt::format("N{:.3g}-D{:.3g}", r.n, r.d);
      r.loss = s.law.predict(r.n, r.d) * std::exp(s.noise * noise(rng));
      for (int k = 1; k <= s.curve_points; ++k) {
        const double d = std::round(r.d * k / s.curve_points);
        const double l = k == s.curve_points ? r.loss
                                             : s.law.predict(r.n, d) * std::exp(s.noise * noise(rng));
        r.curve.push_back({d, r.c * d / r.d, l});
      }
      out.push_back(std::move(r));
    }
  return out;
}

void insert_sweep(db::Database& db, const std::vector<RunPoint>& runs) {
  std::vector<db::Run> rows;
  for (const RunPoint& p : runs) {
    db::Run r;
    r.id = p.id;
    r.sweep = "synthetic";
    r.name = p.name;
    r.arch = p.arch;
    r.spec_json = "{}";
    r.params = static_cast<int64_t>(p.n_total);
    r.nonembedding_params = static_cast<int64_t>(p.n);
    r.tokens = static_cast<int64_t>(p.d);
    r.flops = p.c;
    rows.push_back(r);
  }
  db.insert_runs(rows);
  for (const RunPoint& p : runs) {
    std::vector<db::Metric> ms;
    int64_t step = 0;
    for (const CurvePoint& c : p.curve) {
      db::Metric m;
      m.run_id = p.id;
      m.step = ++step;
      m.tokens = static_cast<int64_t>(c.d);
      m.val_loss = c.loss;
      m.train_loss = c.loss;
      ms.push_back(m);
    }
    if (!ms.empty()) db.log_metrics(ms);
    db.finish_run(p.id, p.loss, "{}");
  }
}

}  // namespace scalelab::analysis::testing
