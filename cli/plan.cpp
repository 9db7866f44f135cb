// scalelab plan SHEET: expands a sweep sheet into runs, shows what they cost,
// and (without --dry-run) writes them to the database as pending.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "cli/command.h"
#include "sweep/apply.h"
#include "sweep/columns.h"
#include "sweep/output.h"
#include "sweep/planner.h"

namespace scalelab::cli {
namespace {

struct PlanArgs {
  std::string sheet, format = "table", out, sweep;
  bool dry_run = false, prune = false, format_given = false;
  double gpu_memory_gb = 80;
  sweep::Hardware hw;
};

constexpr const char* kFooter = R"(
Sheet: CSV or TSV, a header row, one row per block of runs; '#' lines are
comments; a row named 'defaults' fills the empty cells of the rows below it.
Cells: 12 | 1e18 | 7B | 125M | 20k (k M B T) ; lists a|b|c ; ranges
start..stop*k (geometric) and start..stop+k (arithmetic) ; cells starting
with zip: (or zip.NAME:) vary together instead of multiplying.
Token budget: exactly one of tokens, tokens_per_param, flops per run.
Schedule: schedule cosine | wsd | constant; warmup below 1 is a fraction of
the run's optimiser steps, from 1 a number of optimiser steps (8 = 8 steps,
0.01 = 1% of the steps); wsd decays over the last decay_fraction of the steps
(default 0.2) with decay_shape linear | cosine | 1-sqrt.
WSD branches: branches 0.25|0.5|1 (fractions of the run's tokens) or token
counts (40k|80k): the run trains the stable phase once, to its largest
branch point, and each budget becomes a branch run that trains only its
cooldown from that checkpoint; the budget shows what they save.
docs/sheets.md describes every column.)";

std::string columns_help() {
  std::string s = "\nColumns:\n", line;
  auto flush = [&] {
    if (!line.empty()) s += line + "\n";
    line.clear();
  };
  for (const sweep::ColumnDef& d : sweep::columns()) {
    if (d.col == sweep::Col::RunId) {
      flush();
      s += "Output-only columns (written by --out, ignored when read):\n";
    }
    if (!line.empty() && line.size() + d.name.size() > 72) flush();
    line += " " + std::string(d.name);
  }
  flush();
  return s;
}

void write_out(const PlanArgs& a, const sweep::Plan& plan) {
  std::ofstream f(a.out, std::ios::binary);
  if (!f) throw InputError(a.out + ": cannot write the expanded sheet");
  const bool tsv = a.out.size() > 4 && a.out.compare(a.out.size() - 4, 4, ".tsv") == 0;
  sweep::write_expanded(f, plan, tsv ? '\t' : ',');
  if (!f.flush()) throw InputError(a.out + ": write failed");
}

void print_data(const PlanArgs& a, const sweep::Plan& plan, const sweep::Budget& b) {
  if (a.format == "csv") sweep::write_expanded(std::cout, plan);
  else if (a.format == "json") std::cout << sweep::plan_json(plan, b).dump(2) << "\n";
  else sweep::print_runs_table(std::cout, plan);
}

void print_duplicates(std::ostream& os, const sweep::Plan& plan) {
  if (plan.duplicates.empty()) return;
  os << fmt::format("note: {} expanded runs repeat a run of an earlier row and were merged",
                    plan.duplicates.size());
  for (size_t i = 0; i < plan.duplicates.size() && i < 3; ++i)
    os << fmt::format("{} row {} = row {}", i ? "," : ":", plan.duplicates[i].line,
                      plan.duplicates[i].first_line);
  os << (plan.duplicates.size() > 3 ? ", ...\n" : "\n");
}

// Runs of the sweep that the sheet no longer produces, grouped by row name.
void print_removed(std::ostream& os, const sweep::Plan& plan, const sweep::ApplyResult& res,
                   bool prune) {
  if (res.removed.empty()) return;
  std::map<std::string, std::map<std::string, int>> by_name;
  int pending = 0;
  for (const db::Run& r : res.removed) {
    ++by_name[r.name.empty() ? "(unnamed)" : r.name][std::string(db::to_string(r.status))];
    pending += r.status == db::RunStatus::Pending;
  }
  os << fmt::format("{} runs of sweep '{}' are no longer in the sheet:\n", res.removed.size(),
                    plan.sweep);
  for (const auto& [name, counts] : by_name) {
    std::string parts;
    for (const auto& [status, n] : counts) parts += (parts.empty() ? "" : ", ") + fmt::format("{} {}", n, status);
    os << fmt::format("  {}: {}\n", name, parts);
  }
  if (prune) os << fmt::format("cancelled {} pending runs (--prune)\n", res.cancelled.size());
  else if (pending > 0)
    os << fmt::format("they stay in the database; --prune cancels the {} pending ones\n", pending);
}

// `--out` onto the sheet itself would replace the user's sheet by its expansion.
void check_out(const PlanArgs& a) {
  std::error_code ec;
  if (!a.out.empty() && std::filesystem::equivalent(a.out, a.sheet, ec))
    throw InputError("--out " + a.out + " is the input sheet itself; write the expanded sheet "
                     "to another file");
}

void run_plan(const PlanArgs& a, Context& ctx) {
  check_out(a);
  if (!(a.hw.mfu > 0 && a.hw.mfu <= 1)) throw InputError("--mfu must be in (0, 1]");
  if (!(a.hw.peak_flops > 0)) throw InputError("--gpu-peak-flops must be positive");
  if (!(a.hw.gpu_hour_price >= 0)) throw InputError("--gpu-hour-price must be >= 0");
  if (a.hw.gpus_per_run < 1) throw InputError("--gpus-per-run must be at least 1");
  sweep::PlanOptions opts;
  opts.sweep = a.sweep;
  opts.hw = a.hw;
  opts.hw.gpu_memory = a.gpu_memory_gb * 1e9;
  sweep::Plan plan;
  try {
    plan = sweep::plan_file(a.sheet, opts);
  } catch (const sweep::SheetErrors& e) {
    throw InputError(fmt::format("{} has {} error{}:\n{}", a.sheet, e.errors().size(),
                                 e.errors().size() == 1 ? "" : "s", e.what()));
  }
  for (const auto& r : plan.runs)
    if (!r.cost.splits)
      throw InputError(fmt::format("run {} ({}): its batch of {} sequences does not split over "
                                   "--gpus-per-run {}", r.row.name, r.row.id, r.spec.batch_size(),
                                   a.hw.gpus_per_run));
  const sweep::Budget b = sweep::budget(plan);
  if (!a.out.empty()) write_out(a, plan);
  // csv/json keep stdout machine-readable; the human summary goes to stderr.
  const bool data_out = a.format != "table";
  std::ostream& human = data_out ? std::cerr : std::cout;
  if (a.dry_run || a.format_given) print_data(a, plan, b);
  if (a.dry_run && !data_out) human << "\n";
  sweep::print_budget(human, plan, b);
  sweep::print_data_uses(human, plan);
  print_duplicates(human, plan);
  if (!a.out.empty()) human << fmt::format("wrote {} runs to {}\n", plan.runs.size(), a.out);
  if (a.dry_run) {
    human << "dry run: the database was not touched\n";
    return;
  }
  db::Database db(ctx.db);
  const size_t planned = plan.runs.size();
  const sweep::ApplyResult res = sweep::write_plan(db, std::move(plan), a.prune);
  human << fmt::format("\n{}: {} runs planned from {}: {} new, {} already there\n", ctx.db,
                       planned, a.sheet, res.added.size(), res.existing);
  print_removed(human, plan, res, a.prune);
}

void add_plan(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("plan", "Expand a sweep sheet into runs and show their cost");
  auto a = std::make_shared<PlanArgs>();
  sub->add_option("sheet", a->sheet, "sweep sheet (.csv or .tsv)")->required()->check(CLI::ExistingFile);
  sub->add_flag("--dry-run", a->dry_run, "print the expanded runs and the budget; write nothing");
  sub->add_option("--format", a->format, "how to print the expanded runs")
      ->check(CLI::IsMember({"table", "csv", "json"}))->capture_default_str();
  sub->add_option("--out", a->out, "write the expanded sheet (CSV, or TSV for .tsv) to FILE");
  sub->add_option("--sweep", a->sweep, "sweep name (default: the sheet's file name)");
  sub->add_option("--gpu-hour-price", a->hw.gpu_hour_price, "$ per GPU-hour")->capture_default_str();
  sub->add_option("--mfu", a->hw.mfu, "model FLOPs utilisation assumed")->capture_default_str();
  sub->add_option("--gpu-peak-flops", a->hw.peak_flops,
                  "peak FLOP/s of one GPU (H100 bf16 dense)")->capture_default_str();
  sub->add_option("--gpu-memory", a->gpu_memory_gb, "GB of memory per GPU")
      ->capture_default_str();
  sub->add_option("--micro-batch-tokens", a->hw.micro_batch_tokens,
                  "tokens per forward for the memory estimate (0: the largest that fits)")
      ->capture_default_str();
  sub->add_option("--gpus-per-run", a->hw.gpus_per_run,
                  "GPUs each run trains data-parallel on: memory, micro-batch and tokens per GPU")
      ->capture_default_str();
  sub->add_flag("--prune", a->prune, "cancel pending runs whose rows left the sheet");
  sub->footer(std::string(kFooter) + columns_help());
  // `scalelab plan SHEET --db DB` as well as `scalelab --db DB plan SHEET`.
  sub->fallthrough();
  sub->callback([a, sub, &ctx] {
    a->format_given = sub->count("--format") > 0;
    run_plan(*a, ctx);
  });
}

}  // namespace

SCALELAB_COMMAND(add_plan);

}  // namespace scalelab::cli
