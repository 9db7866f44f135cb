// bench_plan [DIR]: writes DIR/bench_sweep.csv, a sheet of one defaults row
// and one row per architecture that expands to 100,000 runs (5 archs x 20
// sizes x 10 tokens-per-param ratios x 100 seeds), then times each phase of
// `scalelab plan` on it in-process: read, expand (+ params, FLOPs, ids,
// accounting), budget summary, and the write to a fresh SQLite file in one
// transaction. Target: under 2 s in total on the 2-core CI machine.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "db/db.h"
#include "sweep/apply.h"
#include "sweep/output.h"
#include "sweep/planner.h"

namespace fs = std::filesystem;
namespace sw = scalelab::sweep;

namespace {

// 20 sizes, head dim 64, layers a multiple of 8 so the 7:1 hybrid fits.
std::string size_cells() {
  std::string layers = "zip:", d_model = "zip:", heads = "zip:";
  for (int i = 0; i < 20; ++i) {
    const int d = 256 + 128 * i;
    const std::string sep = i ? "|" : "";
    layers += sep + std::to_string(8 * (1 + i / 4));
    d_model += sep + std::to_string(d);
    heads += sep + std::to_string(d / 64);
  }
  return layers + "," + d_model + "," + heads;
}

std::string write_sheet(const fs::path& dir) {
  const fs::path path = dir / "bench_sweep.csv";
  std::ofstream f(path);
  f << "# 100,000 runs: 5 archs x 20 sizes x 10 ratios x 100 seeds\n"
    << "name,stage,arch,layers,d_model,heads,vocab,seq_len,tokens_per_param,batch_tokens,lr,seed\n"
    << "defaults,,," << size_cells() << ",32000,2048,5..50+5,524288,1e-3,0..99+1\n";
  for (const char* arch : {"softmax", "lightning", "hgrn2", "mamba2", "\"hybrid(lightning,softmax@7:1)\""})
    f << "grid,s1," << arch << ",,,,,,,,,\n";
  return path.string();
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path();
  const std::string sheet = write_sheet(dir);
  const std::string db_path = (dir / "bench_plan.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_path + suffix);

  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  const sw::Sheet s = sw::read_sheet(sheet);
  const double t_read = since(t0);
  const sw::Plan plan = sw::plan_sheet(s);
  const double t_plan = since(t0) - t_read;
  const sw::Budget b = sw::budget(plan);
  const double t_budget = since(t0) - t_read - t_plan;
  scalelab::db::Database db(db_path);
  const sw::ApplyResult res = sw::write_plan(db, plan, false);
  const double t_total = since(t0);
  const double t_write = t_total - t_read - t_plan - t_budget;
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;

  fmt::print("runs planned: {} ({} new in the database), total {} FLOPs, {} GPU-h\n",
             plan.runs.size(), res.added.size(), sw::human_flops(b.total.flops),
             sw::human_hours(b.total.gpu_hours));
  fmt::print("read sheet   {:7.3f} s\n", t_read);
  fmt::print("expand       {:7.3f} s  ({:.1f} us/run: params, FLOPs, spec JSON, id, memory)\n",
             t_plan, 1e6 * t_plan / static_cast<double>(plan.runs.size()));
  fmt::print("budget       {:7.3f} s\n", t_budget);
  fmt::print("sqlite write {:7.3f} s  (one transaction, {} MB file)\n", t_write,
             fs::file_size(db_path) / 1000000);
  fmt::print("total        {:7.3f} s  (target < 2 s; CPU time of this process {:.3f} s)\n",
             t_total, cpu);
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_path + suffix);
  return plan.runs.size() == 100000 && res.added.size() == 100000 ? 0 : 1;
}
