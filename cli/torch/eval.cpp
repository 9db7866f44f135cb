// scalelab eval [RUN...] [--sweep S --stage G --arch A]: retrieval and
// long-context evals of finished runs (evals/run_evals.h), stored beside the
// runs (db evals table), shown by `status` and the report.
//
// Every selected run and option is checked before any model is loaded: an
// unknown run, one not done, a bad option or a context too short for a
// needle is exit code 2 with nothing written. Each run's results replace its
// earlier ones of the same eval, in one transaction per eval.
#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

#include "cli/command.h"
#include "evals/run_evals.h"
#include "models/spec/run_spec.h"

namespace scalelab::cli {
namespace {

struct EvalArgs {
  std::vector<std::string> ids;
  std::string sweep, stage, arch, runs_dir = "runs";
  std::string tasks, contexts, depths, variants;
  int threads = 0;
  evals::EvalOptions opt;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

template <class T>
std::vector<T> numbers(const std::string& flag, const std::string& s) {
  std::vector<T> out;
  for (const std::string& item : split_list(s)) {
    size_t used = 0;
    try {
      if constexpr (std::is_integral_v<T>)
        out.push_back(static_cast<T>(std::stoll(item, &used)));
      else
        out.push_back(static_cast<T>(std::stod(item, &used)));
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size())
      throw InputError(flag + ": '" + item + "' is not a number (give a comma-separated list)");
  }
  return out;
}

std::vector<db::Run> select_runs(db::Database& db, const EvalArgs& a) {
  db::RunFilter f;
  if (!a.sweep.empty()) f.sweep = a.sweep;
  if (!a.stage.empty()) f.stage = a.stage;
  if (!a.arch.empty()) f.arch = a.arch;
  check_filter(db, f);
  std::vector<db::Run> all = db.list_runs(f);
  std::vector<db::Run> out;
  if (a.ids.empty()) {
    for (db::Run& r : all)
      if (r.status == db::RunStatus::Done) out.push_back(std::move(r));
    if (out.empty()) throw InputError("eval: no finished run to evaluate in " + db.path());
    return out;
  }
  for (const std::string& id : a.ids) {
    std::vector<const db::Run*> hits;
    for (const db::Run& r : all)
      if (r.id == id || (id.size() >= 6 && r.id.compare(0, id.size(), id) == 0)) hits.push_back(&r);
    if (hits.size() != 1) {
      std::vector<std::string> ids;
      for (const db::Run& r : all) ids.push_back(r.id);
      throw InputError(hits.empty() ? "eval: no run '" + id + "'" + did_you_mean(id, ids)
                                    : "eval: '" + id + "' matches " + std::to_string(hits.size()) +
                                          " runs; give more of the id");
    }
    if (hits[0]->status != db::RunStatus::Done)
      throw InputError("eval: run " + hits[0]->id + " is " +
                       std::string(db::to_string(hits[0]->status)) +
                       ", not done; only finished runs have trained weights");
    out.push_back(*hits[0]);
  }
  return out;
}

int eval_runs(const Context& ctx, EvalArgs& a) {
  if (a.threads > 0) at::set_num_threads(a.threads);
  try {
    a.opt.tasks = split_list(a.tasks);
    a.opt.contexts = numbers<int64_t>("--contexts", a.contexts);
    if (!a.depths.empty()) a.opt.depths = numbers<double>("--depths", a.depths);
    if (!a.variants.empty()) a.opt.variants = split_list(a.variants);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  for (int64_t c : a.opt.contexts)
    if (c < 1) throw InputError(fmt::format("--contexts: {} is not a positive length", c));
  auto dbp = open_existing(ctx, db::OpenMode::ReadWrite);
  db::Database& db = *dbp;
  const std::vector<db::Run> runs = select_runs(db, a);
  // Everything is checked before the first model is loaded.
  std::vector<std::string> paths;
  for (const db::Run& r : runs) {
    try {
      const spec::RunSpec s = spec::run_spec_from_json(nlohmann::json::parse(r.spec_json));
      evals::check_eval_options(s, a.opt);
      if (evals::tasks_for(s, a.opt).empty())
        throw std::invalid_argument("none of --tasks " + a.tasks + " applies to a " + s.task +
                                    " run (mqar runs: mqar; lm runs: sniah, position)");
    } catch (const std::exception& e) {
      throw InputError("eval: run " + r.id + " (" + r.arch + "): " + e.what());
    }
    const std::string path = a.runs_dir + "/" + r.id + "/model.pt";
    if (!std::filesystem::exists(path))
      throw InputError("eval: run " + r.id + " has no trained weights at " + path +
                       " (is --runs-dir the folder `scalelab run` trained in?)");
    paths.push_back(path);
  }
  const bool loud = ctx.quiet == 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const db::Run& r = runs[i];
    if (loud)
      fmt::print(stderr, "eval {}/{}: {} ({}{})\n", i + 1, runs.size(), r.id, r.arch,
                 r.name.empty() ? "" : ", " + r.name);
    evals::EvalOptions o = a.opt;
    if (loud) o.progress = [&r](const std::string& line) { fmt::print(stderr, "  [{}] {}\n", r.id, line); };
    for (const auto& [eval, rows] : evals::evaluate_run(r, paths[i], o)) db.replace_evals(r.id, eval, rows);
  }
  if (loud) fmt::print(stderr, "eval: {} run(s) evaluated; `scalelab status` shows them\n", runs.size());
  return kExitOk;
}

void add_eval(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<EvalArgs>();
  auto* sub = app.add_subcommand(
      "eval", "Retrieval and long-context evals of finished runs: MQAR accuracy (mqar runs), "
              "S-NIAH recall and held-out loss by position (lm runs)");
  sub->add_option("runs", a->ids, "run ids (or unique prefixes of 6+ characters); default: every done run");
  sub->add_option("--sweep", a->sweep, "only runs of this sweep");
  sub->add_option("--stage", a->stage, "only runs of this stage");
  sub->add_option("--arch", a->arch, "only runs of this architecture");
  sub->add_option("--tasks", a->tasks, "comma-separated: mqar, sniah, position (default: all that apply)");
  sub->add_option("--contexts", a->contexts, "S-NIAH prompt lengths in tokens (default: T/4,T/2,T,2T)");
  sub->add_option("--depths", a->depths, "S-NIAH needle depths in [0,1] (default: 0,0.25,0.5,0.75,1)");
  sub->add_option("--variants", a->variants,
                  "S-NIAH variants: passkey/repeat, passkey/text, word/repeat, word/text "
                  "(default: passkey/repeat,word/repeat,passkey/text)");
  sub->add_option("--samples", a->opt.samples, "S-NIAH prompts per (variant, context, depth)")
      ->capture_default_str();
  sub->add_option("--mqar-samples", a->opt.mqar_samples, "held-out MQAR sequences")->capture_default_str();
  sub->add_option("--position-windows", a->opt.position_windows,
                  "held-out windows for loss by position (0: the run's eval_tokens)")
      ->capture_default_str();
  sub->add_option("--batch", a->opt.batch, "prompts or windows per forward")->capture_default_str();
  sub->add_option("--runs-dir", a->runs_dir, "folder of the run folders (scalelab run --runs-dir)")
      ->capture_default_str();
  sub->add_option("--device", a->opt.device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  sub->add_option("--threads", a->threads, "torch intra-op threads (0: torch's default)");
  sub->callback([&ctx, a] {
    ctx.rc = eval_runs(ctx, *a);
    std::fflush(nullptr);
  });
}
SCALELAB_COMMAND(add_eval);

}  // namespace
}  // namespace scalelab::cli
