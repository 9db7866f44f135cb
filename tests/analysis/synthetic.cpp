#include "tests/analysis/synthetic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include <nlohmann/json.hpp>

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
    db.finish_run(*db.claim_run(p.id, "synthetic"), p.loss, "{}");
  }
}

}  // namespace scalelab::analysis::testing

namespace scalelab::analysis::testing {

namespace {

db::Run sweep_row(const std::string& id, const std::string& arch, double n, double d,
                  const nlohmann::json& spec) {
  db::Run r;
  r.id = id;
  r.sweep = "synthetic-wsd";
  r.name = fmt::format("N{:.3g}", n);
  r.arch = arch;
  r.spec_json = spec.dump();
  r.params = r.nonembedding_params = static_cast<int64_t>(n);
  r.tokens = static_cast<int64_t>(d);
  r.flops = 6 * n * d;
  return r;
}

// Rows logged every STEP_TOKENS tokens in (from, to]: val loss from LOSS(d),
// train loss 2% above it, the last one with a validation loss.
std::vector<db::Metric> rows(const std::string& id, double from, double to, double step_tokens,
                             const std::function<double(double)>& loss) {
  std::vector<db::Metric> out;
  for (double d = from + step_tokens; d <= to + 0.5; d += step_tokens) {
    db::Metric m;
    m.run_id = id;
    m.step = static_cast<int64_t>(std::llround(d / step_tokens));
    m.tokens = static_cast<int64_t>(std::llround(d));
    m.train_loss = 1.02 * loss(d);
    if (m.step % 2 == 0 || d + step_tokens > to + 0.5) m.val_loss = loss(d);
    out.push_back(m);
  }
  return out;
}

}  // namespace

std::vector<RunPoint> insert_wsd_sweep(db::Database& db, const SweepSpec& s) {
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<double> z(0, 1);
  std::vector<RunPoint> out;
  const double top = *std::max_element(s.tokens_per_n.begin(), s.tokens_per_n.end());
  for (double n0 : s.sizes) {
    const double n = std::round(n0), shared = s.noise * z(rng), steps = 40;
    const double step_tokens = std::round(top * n / steps);
    const std::string pid = fmt::format("{}-p{:.0f}", s.arch, n);
    std::vector<int64_t> budgets;
    for (double ratio : s.tokens_per_n) budgets.push_back(std::llround(ratio * n));
    // The stable phase runs to 80% of the largest budget, with a loss above the law.
    const double stable_end = 0.8 * steps * step_tokens;
    db.insert_runs({sweep_row(pid, s.arch, n, stable_end, {{"branches", budgets}})});
    auto stable = [&](double d) { return 1.08 * s.law.predict(n, d) * std::exp(shared); };
    db.log_metrics(rows(pid, 0, stable_end, step_tokens, stable));
    db.finish_run(*db.claim_run(pid, "synthetic"), stable(stable_end), "{}");
    for (double ratio : s.tokens_per_n) {
      RunPoint p;
      p.arch = s.arch;
      p.n = p.n_total = n;
      p.d = std::round(ratio * n);
      p.c = 6 * n * p.d;
      p.id = fmt::format("{}-b{:.0f}", pid, ratio);
      p.name = fmt::format("N{:.3g}", n);
      p.parent = pid;
      p.branch_step = static_cast<int64_t>(std::floor(0.8 * p.d / step_tokens));
      p.loss = s.law.predict(n, p.d) * std::exp(shared + 0.25 * s.noise * z(rng));
      const double start = static_cast<double>(p.branch_step) * step_tokens, end = p.d;
      const double l0 = stable(start), l1 = p.loss;
      db.insert_runs({sweep_row(p.id, s.arch, n, p.d,
                                {{"branch_of", pid}, {"branch_step", p.branch_step}})});
      db.log_metrics(rows(p.id, start, end, step_tokens, [&](double d) {
        return l0 + (l1 - l0) * (d - start) / std::max(1.0, end - start);
      }));
      db.finish_run(*db.claim_run(p.id, "synthetic"), p.loss, "{}");
      out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace scalelab::analysis::testing
