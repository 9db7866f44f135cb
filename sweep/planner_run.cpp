// One expanded run: its model (cached: a sweep has far fewer shapes than
// runs), its token budget, its RunSpec and identity.
#include <algorithm>
#include <climits>
#include <cmath>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "models/spec/wsd.h"
#include "sweep/gate.h"
#include "sweep/planner_impl.h"

namespace scalelab::sweep {
namespace detail {
namespace {

int to_int(int64_t v, Col c) {
  if (v < INT_MIN || v > INT_MAX) throw spec::SpecError(name_of(c), name_of(c) + " is too large");
  return static_cast<int>(v);
}

// Where a spec::SpecError points: the column named like its field, else arch.
std::string column_for_field(const std::string& field) {
  if (find_column(field)) return field;
  if (field == "n_layers") return "layers";
  if (field == "n_heads") return "heads";
  return "arch";
}

}  // namespace

const ModelInfo& Planner::model(const Current& cur, std::optional<int64_t> vocab_default) {
  std::string key = cur[idx(Col::Arch)] ? cur[idx(Col::Arch)]->text : std::string("softmax");
  if (!cur[idx(Col::Vocab)] && vocab_default) key += "|v" + std::to_string(*vocab_default);
  static constexpr Col kInts[] = {Col::Layers, Col::DModel, Col::Heads, Col::KvHeads,
                                  Col::Ffn,    Col::Vocab,  Col::SeqLen};
  auto add_key = [&](Col c) {
    key += '\x1f';
    if (cur[idx(c)]) key += std::to_string(cur[idx(c)]->i);
  };
  for (Col c : kInts) add_key(c);
  const int n_fields = static_cast<int>(spec::mixer_fields().size());
  for (int f = 0; f < n_fields; ++f) add_key(mixer_column(f));
  key += cur[idx(Col::TieEmbeddings)] ? (cur[idx(Col::TieEmbeddings)]->b ? "|t" : "|u") : "|";
  auto it = models_.find(key);
  if (it != models_.end()) return it->second;
  ModelInfo info;
  spec::ModelSpec& m = info.spec;
  try {
    if (cur[idx(Col::Arch)]) m.arch = cur[idx(Col::Arch)]->text;
    auto set = [&](Col c, int& field) {
      if (cur[idx(c)]) field = to_int(cur[idx(c)]->i, c);
    };
    set(Col::Layers, m.n_layers);
    set(Col::DModel, m.d_model);
    set(Col::Heads, m.n_heads);
    set(Col::KvHeads, m.n_kv_heads);
    set(Col::Ffn, m.d_ffn);
    if (vocab_default) m.vocab = to_int(*vocab_default, Col::Vocab);
    set(Col::Vocab, m.vocab);
    set(Col::SeqLen, m.seq_len);
    for (int f = 0; f < n_fields; ++f)
      set(mixer_column(f), m.mixer_fields[static_cast<size_t>(f)]);
    if (cur[idx(Col::TieEmbeddings)]) m.tie_embeddings = cur[idx(Col::TieEmbeddings)]->b;
    spec::resolve(m);
    info.params = spec::count_params(m);
    info.flops_per_token = spec::train_flops_per_token(m);
    info.descriptor = spec::to_descriptor(m);
  } catch (const spec::SpecError& e) {
    info.error = e;
  }
  return models_.emplace(std::move(key), std::move(info)).first->second;
}

std::optional<int64_t> Planner::budget_tokens(const Current& cur, const ModelInfo& mi, int line) {
  double tokens = 0;
  Col col = Col::Tokens;
  if (cur[idx(Col::Tokens)]) {
    tokens = static_cast<double>(cur[idx(Col::Tokens)]->i);
  } else if (cur[idx(Col::TokensPerParam)]) {
    col = Col::TokensPerParam;
    tokens = std::round(cur[idx(col)]->d * static_cast<double>(mi.params.total));
  } else {
    col = Col::Flops;
    tokens = std::round(cur[idx(col)]->d / mi.flops_per_token);
  }
  if (!(tokens >= 1)) {
    errors_.add(line, name_of(col),
                fmt::format("token budget gives {} tokens; it must give at least 1", tokens));
    return std::nullopt;
  }
  if (tokens > 9e18) {
    errors_.add(line, name_of(col), "token budget gives more than 9e18 tokens");
    return std::nullopt;
  }
  return static_cast<int64_t>(tokens);
}

bool Planner::fill_run_spec(const Current& cur, int line, spec::RunSpec& r) {
  bool ok = true;
  auto check = [&](Col c, bool good, const std::string& what) {
    if (!good) errors_.add(line, name_of(c), name_of(c) + " " + what);
    ok = ok && good;
  };
  auto real = [&](Col c, double& field, double lo, double hi, const char* what) {
    if (!cur[idx(c)]) return;
    field = cur[idx(c)]->d;
    check(c, field >= lo && field <= hi, fmt::format("{}, got {}", what, field));
  };
  if (cur[idx(Col::BatchTokens)]) r.batch_tokens = cur[idx(Col::BatchTokens)]->i;
  check(Col::BatchTokens, r.batch_tokens >= r.model.seq_len,
        "(" + std::to_string(r.batch_tokens) + ") is smaller than seq_len (" +
            std::to_string(r.model.seq_len) + ")");
  real(Col::Lr, r.lr, 1e-300, 1e300, "must be positive");
  real(Col::MinLrRatio, r.min_lr_ratio, 0, 1, "must be in [0, 1]");
  real(Col::Warmup, r.warmup, 0, 1e18, "must be >= 0 (a fraction below 1, steps from 1)");
  real(Col::DecayFraction, r.decay_fraction, 0, 1, "must be in [0, 1]");
  real(Col::WeightDecay, r.weight_decay, 0, 1e300, "must be >= 0");
  real(Col::Beta1, r.beta1, 0, 0.999999999, "must be in [0, 1)");
  real(Col::Beta2, r.beta2, 0, 0.999999999, "must be in [0, 1)");
  real(Col::GradClip, r.grad_clip, 0, 1e300, "must be >= 0 (0 = off)");
  if (cur[idx(Col::Schedule)]) r.schedule = cur[idx(Col::Schedule)]->text;
  if (cur[idx(Col::DecayShape)]) r.decay_shape = cur[idx(Col::DecayShape)]->text;
  if (cur[idx(Col::Data)]) r.data = cur[idx(Col::Data)]->text;
  if (cur[idx(Col::Seed)]) {
    check(Col::Seed, cur[idx(Col::Seed)]->i >= 0, "must be >= 0");
    r.seed = static_cast<uint64_t>(cur[idx(Col::Seed)]->i);
  }
  if (cur[idx(Col::EvalEvery)]) r.eval_every = cur[idx(Col::EvalEvery)]->i;
  check(Col::EvalEvery, r.eval_every >= 0, "must be >= 0 (0 = about 20 per run)");
  if (cur[idx(Col::EvalTokens)]) r.eval_tokens = cur[idx(Col::EvalTokens)]->i;
  check(Col::EvalTokens, r.eval_tokens > 0, "must be positive");
  if (cur[idx(Col::Task)]) r.task = cur[idx(Col::Task)]->text;
  check(Col::Task, r.task == "lm" || r.task == "mqar", "must be lm or mqar, got '" + r.task + "'");
  if (r.is_mqar()) {
    // The task makes its own sequences: a data cell would be silently unused.
    check(Col::Data, !cur[idx(Col::Data)] || cur[idx(Col::Data)]->text == "mqar",
          "must be blank for task mqar (the task makes its own sequences), got '" +
              (cur[idx(Col::Data)] ? cur[idx(Col::Data)]->text : std::string()) + "'");
    r.data = "mqar";
    if (cur[idx(Col::MqarPairs)]) r.mqar_pairs = cur[idx(Col::MqarPairs)]->i;
    try {
      if (ok) spec::check_mqar(r);
    } catch (const spec::SpecError& e) {
      errors_.add(line, e.field == "vocab" ? name_of(Col::Vocab) : name_of(Col::MqarPairs), e.what());
      ok = false;
    }
  } else {
    check(Col::MqarPairs, !cur[idx(Col::MqarPairs)] || cur[idx(Col::MqarPairs)]->i == 0,
          "is only for task mqar");
  }
  return ok;
}

void Planner::add_run(const SheetRow& row, const Current& cur) {
  const bool mqar = cur[idx(Col::Task)] && cur[idx(Col::Task)]->text == "mqar";
  DataSource* ds = mqar ? nullptr : data_source(cur, row.line);
  // A blank vocab takes the one a shard set's manifest states.
  const ModelInfo& mi = model(cur, ds && ds->layout && ds->layout->vocab_exact
                                       ? std::optional<int64_t>(ds->layout->vocab) : std::nullopt);
  if (mi.error) {
    errors_.add(row.line, column_for_field(mi.error->field), mi.error->what());
    // A bad model must not hide a bad budget where the budget needs no model.
    if (cur[idx(Col::Tokens)] && !(cur[idx(Col::Tokens)]->i >= 1))
      errors_.add(row.line, name_of(Col::Tokens),
                  fmt::format("token budget gives {} tokens; it must give at least 1",
                              cur[idx(Col::Tokens)]->i));
    return;
  }
  std::optional<int64_t> tokens = budget_tokens(cur, mi, row.line);
  PlannedRun run;
  run.spec.model = mi.spec;
  if (!fill_run_spec(cur, row.line, run.spec) || !tokens || (!ds && !mqar)) return;
  if (ds && !check_data(*ds, run.spec, row.line)) return;
  run.spec.tokens = *tokens;
  if (!resolve_branches(cur, row.line, run.spec)) return;
  run.line = row.line;
  run.flops_per_token = mi.flops_per_token;
  db::Run& r = run.row;
  r.sweep = plan_.sweep;
  r.stage = cur[idx(Col::Stage)] ? cur[idx(Col::Stage)]->text : "";
  r.name = cur[idx(Col::Name)] ? cur[idx(Col::Name)]->text : "";
  r.arch = mi.spec.arch;
  r.params = mi.params.total;
  r.nonembedding_params = mi.params.non_embedding;
  r.tokens = run.spec.branches.empty()
                 ? *tokens
                 : spec::train_steps(run.spec) * run.spec.batch_size() * run.spec.model.seq_len;
  r.flops = mi.flops_per_token * static_cast<double>(r.tokens);
  r.priority = cur[idx(Col::Priority)] ? static_cast<int>(cur[idx(Col::Priority)]->i) : 0;
  run.trained_tokens = r.tokens;
  run.trained_flops = r.flops;
  if (cur[idx(Col::Gate)]) run.gate = cur[idx(Col::Gate)]->text;
  run.cost = account(run.spec, r.params, r.flops, plan_.hw);
  // The trainer forwards this many sequences at a time (gradient accumulation
  // makes up the batch), so the run fits the memory it was planned for.
  r.micro_batch = run.cost.micro_batch;
  r.memory_estimate = run.cost.memory.total();
  plan_.runs.push_back(std::move(run));
  run_models_.push_back(&mi);
}

// Identity is the costly part of planning (a JSON document per run), so it is
// computed once per run, on every core, after the whole sheet has expanded.
void Planner::assign_ids() {
  std::vector<PlannedRun>& runs = plan_.runs;
  auto work = [&runs, this](size_t begin, size_t end) {
    std::string json;
    for (size_t i = begin; i < end; ++i) {
      json.clear();
      spec::append_canonical_json(runs[i].spec, run_models_[i]->descriptor, json);
      runs[i].row.id = spec::run_id_of_canonical(json);
      runs[i].row.spec_json = json;
    }
  };
  const size_t n = runs.size();
  const size_t threads = n < 4096 ? 1 : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, n * t / threads, n * (t + 1) / threads);
  work(0, n / threads);
  for (std::thread& th : pool) th.join();
  // Two rows describing the same run give one run: the first row's. Keys are
  // the ids' 64-bit values (16 hex digits would not fit a short string).
  std::unordered_map<uint64_t, size_t> first;
  first.reserve(n);
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = spec::run_id_key(runs[i].row.id);
    auto [it, fresh] = first.emplace(key, kept);
    if (!fresh) {
      plan_.duplicates.push_back({runs[i].line, runs[it->second].line, runs[i].row.id});
      continue;
    }
    if (kept != i) runs[kept] = std::move(runs[i]);
    ++kept;
  }
  runs.resize(kept);
}

}  // namespace detail

Plan plan_sheet(const Sheet& sheet, const PlanOptions& opts) {
  return detail::Planner(sheet, opts).run();
}

Plan plan_file(const std::string& path, const PlanOptions& opts) {
  return plan_sheet(read_sheet(path), opts);
}

std::string sweep_name_for(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

}  // namespace scalelab::sweep

namespace scalelab::sweep::detail {

// Stages in order of first appearance, each with its one gate, checked here so
// that a bad gate is an error at its cell, before anything is written.
void Planner::collect_stages() {
  std::map<std::string, size_t> at;
  for (const PlannedRun& r : plan_.runs) {
    auto [it, fresh] = at.emplace(r.row.stage, plan_.stages.size());
    if (fresh) {
      plan_.stages.push_back({r.row.stage, r.gate});
      if (!r.gate.empty() && plan_.stages.size() == 1) {
        errors_.add(r.line, "gate", "the first stage has no stage before it to gate on");
        continue;
      }
      if (!r.gate.empty()) try {
          Gate::parse(r.gate);
        } catch (const GateError& e) {
          errors_.add(r.line, "gate", e.what());
        }
      continue;
    }
    const StagePlan& s = plan_.stages[it->second];
    if (!r.gate.empty() && r.gate != s.gate)
      errors_.add(r.line, "gate",
                  "stage '" + s.name + "' already has gate '" + s.gate +
                      "' (every row of a stage gives the same gate, or none)");
  }
}

}  // namespace scalelab::sweep::detail
