// scalelab calibrate: measures the training FLOP rate of this machine's CPU on
// a small model for about a second and stores it (`run` uses it to
// estimate a sweep before it starts, until finished runs replace it).
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>

#include "cli/command.h"
#include "models/decoder.h"
#include "models/spec/spec.h"
#include "sweep/scheduler.h"

namespace scalelab::cli {
namespace {

constexpr const char* kModel = "softmax:L2:d128:h2:T128";
constexpr int64_t kBatch = 4;

double measure(int threads) {
  if (threads > 0) at::set_num_threads(threads);
  const spec::ModelSpec m = spec::parse_descriptor(kModel);
  models::Decoder model(m);
  model->init_weights(0);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  const auto w = torch::randint(0, m.vocab, {kBatch, m.seq_len + 1}, torch::kLong);
  const auto x = w.slice(1, 0, -1), y = w.slice(1, 1);
  auto step = [&] {
    auto logits = model->forward(x);
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                     y.reshape({-1}));
    loss.backward();
    opt.step();
    opt.zero_grad();
  };
  step();  // first-call allocations
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  int steps = 0;
  double s = 0;
  while (steps < 2 || s < 1.0) {
    step();
    ++steps;
    s = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return spec::train_flops_per_token(m) * static_cast<double>(kBatch * m.seq_len * steps) / s;
}

void add_calibrate(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("calibrate", "Measure and store this CPU's training FLOP rate");
  sub->group("");  // hidden: `scalelab run` calls it when it needs an estimate
  auto threads = std::make_shared<int>(0);
  sub->add_option("--threads", *threads, "torch threads, as one CPU run gets them (0: all)");
  sub->callback([&ctx, threads] {
    auto db = open_existing(ctx, db::OpenMode::ReadWrite);
    const double rate = measure(*threads);
    db->record_speed(sweep::hostname(), "cpu", rate,
                     fmt::format("calibration ({}, {} threads)", kModel, at::get_num_threads()));
    fmt::print("{:.3g} GFLOP/s\n", rate / 1e9);
  });
}
SCALELAB_COMMAND(add_calibrate);

}  // namespace
}  // namespace scalelab::cli
