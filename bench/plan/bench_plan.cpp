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
#include <vector>

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

}  // namespace

int main(int argc, char** argv) {
  const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path();
  const std::string sheet = write_sheet(dir);
  const std::string db_path = (dir / "bench_plan.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_path + suffix);

  // Wall and CPU seconds per phase: on the shared 2-core machine other jobs
  // take CPU, so the CPU figure is the one that compares across runs.
  struct Phase {
    const char* name;
    double wall, cpu;
  };
  std::vector<Phase> phases;
  auto w = std::chrono::steady_clock::now();
  std::clock_t c = std::clock();
  auto lap = [&](const char* name) {
    const auto w1 = std::chrono::steady_clock::now();
    const std::clock_t c1 = std::clock();
    phases.push_back({name, std::chrono::duration<double>(w1 - w).count(),
                      static_cast<double>(c1 - c) / CLOCKS_PER_SEC});
    w = w1;
    c = c1;
  };
  const sw::Sheet s = sw::read_sheet(sheet);
  lap("read sheet");
  sw::Plan plan = sw::plan_sheet(s);
  const size_t planned = plan.runs.size();
  lap("expand");
  const sw::Budget b = sw::budget(plan);
  lap("budget");
  scalelab::db::Database db(db_path);
  const sw::ApplyResult res = sw::write_plan(db, std::move(plan), false);
  lap("sqlite write");
  const sw::ApplyResult again = sw::write_plan(db, sw::plan_sheet(sw::read_sheet(sheet)), false);
  lap("re-plan no-op");
  const double w_replan = phases.back().wall;

  fmt::print("runs planned: {} ({} new in the database), total {} FLOPs, {} GPU-h\n",
             planned, res.added.size(), sw::human_flops(b.total.flops),
             sw::human_hours(b.total.gpu_hours));
  double wall = 0, cpu = 0;
  phases.pop_back();  // the re-plan is shown apart from the total
  for (const Phase& p : phases) {
    fmt::print("{:<13} wall {:6.3f} s  cpu {:6.3f} s\n", p.name, p.wall, p.cpu);
    wall += p.wall;
    cpu += p.cpu;
  }
  fmt::print("{:<13} wall {:6.3f} s  cpu {:6.3f} s  ({:.1f} us/run; target < 2 s)\n", "total", wall,
             cpu, 1e6 * wall / static_cast<double>(planned));
  fmt::print("re-plan of the same sheet, sheet to database (no-op, {} new): wall {:.3f} s\n",
             again.added.size(), w_replan);
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_path + suffix);
  return planned == 100000 && res.added.size() == 100000 && again.added.empty() ? 0 : 1;
}
