// The planner's data checks (sweep/data_check.h): each `data` cell resolved
// once, each run checked against it, and the per-source summary.
#include <fmt/format.h>

#include <algorithm>

#include "data/format.h"
#include "sweep/output.h"
#include "sweep/planner_impl.h"

namespace scalelab::sweep {
namespace detail {

DataSource* Planner::data_source(const Current& cur, int line) {
  const std::string src = cur[idx(Col::Data)] ? cur[idx(Col::Data)]->text : spec::RunSpec{}.data;
  auto [it, fresh] = data_.try_emplace(src);
  DataSource& ds = it->second;
  if (fresh) {
    ds.order = data_.size();
    try {
      ds.layout = data::resolve_source(src);
      for (const data::TokenFile& f : ds.layout->files) ds.need_vocab = std::max(ds.need_vocab, f.max_token + 1);
    } catch (const data::DataError& e) {
      ds.error = e.what();
    }
  }
  if (!ds.layout) {
    errors_.add(line, name_of(Col::Data), ds.error);
    return nullptr;
  }
  return &ds;
}

bool Planner::check_data(DataSource& ds, const spec::RunSpec& r, int line) {
  const data::SourceLayout& L = *ds.layout;
  const int64_t vocab = r.model.vocab, seq = r.model.seq_len;
  bool ok = true;
  auto fail = [&](Col c, const std::string& msg) {
    errors_.add(line, name_of(c), msg);
    ok = false;
  };
  if (L.vocab_exact && vocab != L.vocab)
    fail(Col::Vocab, fmt::format("vocab {} disagrees with the data: {}/manifest.json has a tokenizer of vocab {}",
                                 vocab, L.origin, L.vocab));
  else if (vocab < ds.need_vocab)
    fail(Col::Vocab, fmt::format("vocab {} is too small for the data: {} holds token {}", vocab,
                                 L.origin, ds.need_vocab - 1));
  auto w = ds.windows.find(seq);
  if (w == ds.windows.end())
    w = ds.windows.emplace(seq, std::make_pair(L.windows(data::Split::Train, seq),
                                               L.windows(data::Split::Validation, seq))).first;
  const auto [train_w, val_w] = w->second;
  for (const auto& [split, n] : {std::pair{data::Split::Train, train_w}, {data::Split::Validation, val_w}})
    if (n == 0)
      fail(Col::SeqLen, fmt::format("seq_len {} is too long for the data: {}'s {} split holds {} tokens",
                                    seq, L.origin, data::to_string(split), L.tokens(split)));
  const int64_t eval_windows = std::max<int64_t>(1, r.eval_tokens / seq);
  if (val_w > 0 && val_w < eval_windows)
    fail(Col::EvalTokens, fmt::format("eval_tokens {} needs {} held-out windows of seq_len {}; {}'s "
                                      "validation split holds {} ({} tokens)",
                                      r.eval_tokens, eval_windows, seq, L.origin, val_w,
                                      L.tokens(data::Split::Validation)));
  return ok;
}

void Planner::summarize_data() {
  std::vector<std::pair<size_t, DataUse>> uses;
  std::unordered_map<std::string, size_t> at;
  for (const PlannedRun& run : plan_.runs) {
    if (run.spec.is_mqar()) continue;  // makes its own data
    const DataSource& ds = data_.at(run.spec.data);
    auto [it, fresh] = at.try_emplace(run.spec.data, uses.size());
    if (fresh) {
      const data::SourceLayout& L = *ds.layout;
      DataUse u{run.spec.data, L.origin, L.tokens(data::Split::Train), L.tokens(data::Split::Validation),
                L.vocab_exact ? L.vocab : ds.need_vocab, L.vocab_exact};
      uses.emplace_back(ds.order, u);
    }
    DataUse& u = uses[it->second].second;
    const int64_t per_epoch = ds.windows.at(run.spec.model.seq_len).first * run.spec.model.seq_len;
    const double epochs = static_cast<double>(run.spec.tokens) / static_cast<double>(per_epoch);
    ++u.runs;
    u.repeating += epochs > 1;
    if (epochs > u.max_epochs) {
      u.max_epochs = epochs;
      u.max_line = run.line;
    }
  }
  std::stable_sort(uses.begin(), uses.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, u] : uses) plan_.data.push_back(std::move(u));
}

}  // namespace detail

void print_data_uses(std::ostream& os, const Plan& plan) {
  if (!plan.data.empty()) os << "\n";
  for (const DataUse& u : plan.data) {
    os << fmt::format("data {}: {} train + {} validation tokens (vocab {}{}); ", u.source,
                      human_count(static_cast<double>(u.train_tokens)),
                      human_count(static_cast<double>(u.validation_tokens)),
                      u.vocab_exact ? "" : ">= ", u.vocab);
    if (u.repeating == 0)
      os << fmt::format("the largest run (row {}) reads {:.2g} of an epoch\n", u.max_line, u.max_epochs);
    else
      os << fmt::format("{} of {} runs repeat it; the largest (row {}) {} epochs\n", u.repeating,
                        u.runs, u.max_line,
                        u.max_epochs < 1000 ? fmt::format("{:.3g}", u.max_epochs) : human_count(u.max_epochs));
  }
}

}  // namespace scalelab::sweep
