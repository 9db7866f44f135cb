#include "models/spec/wsd.h"

#include <algorithm>
#include <cmath>

namespace scalelab::spec {

int64_t wsd_decay_steps(const RunSpec& r) {
  const int64_t total = std::max<int64_t>(1, r.steps());
  return std::clamp<int64_t>(std::llround(r.decay_fraction * static_cast<double>(total)), 1, total);
}

int64_t wsd_decay_start(const RunSpec& r) {
  return std::max<int64_t>(1, r.steps()) - wsd_decay_steps(r);
}

int64_t whole_steps_tokens(const RunSpec& r, int64_t tokens) {
  const int64_t per_step = r.batch_size() * r.model.seq_len;
  if (per_step <= 0) return tokens;
  return (tokens + per_step - 1) / per_step * per_step;
}

std::vector<BranchPoint> branch_points(const RunSpec& parent) {
  std::vector<BranchPoint> out;
  for (int64_t tokens : parent.branches) {
    RunSpec b = parent;
    b.tokens = whole_steps_tokens(parent, tokens);
    out.push_back({b.tokens, b.steps(), wsd_decay_start(b)});
  }
  std::sort(out.begin(), out.end(),
            [](const BranchPoint& a, const BranchPoint& b) { return a.tokens < b.tokens; });
  return out;
}

int64_t train_steps(const RunSpec& r) {
  if (r.branches.empty()) return r.steps();
  int64_t last = 0;
  for (const BranchPoint& b : branch_points(r)) last = std::max(last, b.step);
  return last;
}

int64_t start_step(const RunSpec& r) { return r.branch_of.empty() ? 0 : r.branch_step; }

RunSpec branch_spec(const RunSpec& parent, const std::string& parent_id, const BranchPoint& b) {
  RunSpec s = parent;
  s.branches.clear();
  s.tokens = b.tokens;
  // warmup_steps() >= 1 stays a step count; 0 stays no warmup.
  s.warmup = static_cast<double>(parent.warmup_steps());
  s.branch_of = parent_id;
  s.branch_step = b.step;
  return s;
}

std::string check_branches(const RunSpec& p) {
  if (p.branches.empty()) return "";
  if (p.schedule != "wsd")
    return "cooldown branches need schedule wsd (the run's schedule is " + p.schedule + ")";
  const int64_t cap = whole_steps_tokens(p, p.tokens);
  for (int64_t t : p.branches) {
    if (t <= 0) return "branch budget " + std::to_string(t) + " is not positive";
    if (whole_steps_tokens(p, t) > cap)
      return "branch budget " + std::to_string(t) + " tokens is above the run's " +
             std::to_string(p.tokens);
  }
  const std::vector<BranchPoint> bs = branch_points(p);
  for (size_t i = 1; i < bs.size(); ++i)
    if (bs[i].steps == bs[i - 1].steps)
      return "branch budgets " + std::to_string(bs[i - 1].tokens) + " and " +
             std::to_string(bs[i].tokens) + " give the same number of steps (" +
             std::to_string(bs[i].steps) + ")";
  if (bs.front().step < 1)
    return "the branch of " + std::to_string(bs.front().tokens) +
           " tokens has no stable phase (its decay starts at step 0)";
  if (p.warmup_steps() > bs.front().step)
    return "warmup (" + std::to_string(p.warmup_steps()) +
           " steps) does not end by the first branch point (step " +
           std::to_string(bs.front().step) + ")";
  return "";
}

}  // namespace scalelab::spec
