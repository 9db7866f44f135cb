#include "cli/stage_gates.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "analysis/powerlaw.h"
#include "sweep/gate.h"

namespace scalelab::cli {
namespace {

// The numbers a gate asks of the done runs of one stage.
class StageValues : public sweep::GateValues {
 public:
  explicit StageValues(std::vector<db::Run> runs) : runs_(std::move(runs)) {}

  double exponent(const std::string& arch) override {
    std::vector<double> c, l;
    for (const db::Run* r : of(arch)) {
      c.push_back(r->flops);
      l.push_back(*r->final_loss);
    }
    try {
      return analysis::fit_power_law(c, l, false).alpha;
    } catch (const std::exception& e) {
      throw sweep::GateError("exponent(" + arch + "): " + e.what());
    }
  }

  double loss(const std::string& arch, const std::string& which) override {
    const auto rs = of(arch);
    auto by_size = [](const db::Run* a, const db::Run* b) {
      return std::tie(a->params, a->flops) < std::tie(b->params, b->flops);
    };
    auto by_loss = [](const db::Run* a, const db::Run* b) { return *a->final_loss < *b->final_loss; };
    const db::Run* r = which == "largest"    ? *std::max_element(rs.begin(), rs.end(), by_size)
                       : which == "smallest" ? *std::min_element(rs.begin(), rs.end(), by_size)
                                             : *std::min_element(rs.begin(), rs.end(), by_loss);
    return *r->final_loss;
  }

 private:
  // Done runs of ARCH: exact name, else the one architecture whose family
  // (the name before '(' or ':') it is.
  std::vector<const db::Run*> of(const std::string& arch) const {
    std::vector<const db::Run*> exact;
    std::map<std::string, std::vector<const db::Run*>> family;
    for (const db::Run& r : runs_) {
      if (!r.final_loss) continue;
      if (r.arch == arch) exact.push_back(&r);
      if (r.arch.substr(0, r.arch.find_first_of("(:")) == arch) family[r.arch].push_back(&r);
    }
    if (!exact.empty()) return exact;
    if (family.size() == 1) return family.begin()->second;
    std::string have;
    for (const db::Run& r : runs_)
      if (have.find(r.arch) == std::string::npos) have += (have.empty() ? "" : ", ") + r.arch;
    throw sweep::GateError(family.empty()
                               ? "no done runs of '" + arch + "' (done: " +
                                     (have.empty() ? "none" : have) + ")"
                               : "'" + arch + "' names several architectures; quote one of: " + have);
  }

  std::vector<db::Run> runs_;
};

db::Stage decide(db::Database& db, db::Stage s, const db::Stage& prev, int64_t done,
                 int64_t other) {
  const std::string counts = fmt::format("stage '{}' finished: {} done, {} not done", prev.stage,
                                         done, other);
  if (s.gate.empty()) {
    s.state = "open";
    s.verdict = "no gate";
    s.detail = counts;
    return s;
  }
  db::RunFilter f;
  f.sweep = s.sweep;
  f.stage = prev.stage;
  f.status = db::RunStatus::Done;
  StageValues values(db.list_runs(f));
  try {
    const sweep::GateVerdict v = sweep::Gate::parse(s.gate).evaluate(values);
    s.state = v.pass ? "open" : "blocked";
    s.verdict = v.pass ? "passed" : "failed";
    s.detail = v.detail + " (" + counts + ")";
  } catch (const sweep::GateError& e) {
    s.state = "blocked";
    s.verdict = "failed";
    s.detail = std::string("cannot evaluate: ") + e.what() + " (" + counts + ")";
  }
  return s;
}

}  // namespace

std::string describe_stage(const db::Stage& s) {
  if (s.position == 0 && s.gate.empty()) return "";
  std::string line = "stage " + (s.stage.empty() ? std::string("-") : s.stage) + ": " + s.state;
  if (!s.gate.empty()) line += ", gate '" + s.gate + "'";
  if (!s.verdict.empty()) line += ": " + s.verdict + " (" + s.detail + ")";
  return line;
}

int open_stages_by_gates(db::Database& db) {
  const std::vector<db::Stage> stages = db.stages();
  struct Counts { int64_t busy = 0, done = 0, total = 0; };
  std::map<std::pair<std::string, std::string>, Counts> counts;
  for (const db::StageCount& c : db.stage_counts()) {
    Counts& n = counts[{c.sweep, c.stage}];
    if (c.status == db::RunStatus::Pending || c.status == db::RunStatus::Running) n.busy += c.n;
    if (c.status == db::RunStatus::Done) n.done += c.n;
    n.total += c.n;
  }
  int opened = 0;
  for (size_t i = 1; i < stages.size(); ++i) {
    const db::Stage &s = stages[i], &prev = stages[i - 1];
    if (s.state != "waiting" || prev.sweep != s.sweep || prev.state != "open") continue;
    const Counts n = counts[{prev.sweep, prev.stage}];
    if (n.busy > 0) continue;
    const db::Stage d = decide(db, s, prev, n.done, n.total - n.done);
    db.decide_stage(d);
    opened += d.state == "open";
  }
  return opened;
}

}  // namespace scalelab::cli
