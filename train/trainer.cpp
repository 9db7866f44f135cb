#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "models/decoder.h"
#include "train/branches.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/env.h"
#include "train/schedule.h"

namespace scalelab::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

torch::Device pick_device(const std::string& want) {
  if (want == "auto") return torch::cuda::is_available() ? torch::Device("cuda:0") : torch::kCPU;
  torch::Device d(want);
  if (d.is_cuda() && !torch::cuda::is_available())
    throw std::runtime_error("train: device '" + want + "' asked for, but no CUDA GPU is visible");
  return d;
}

// nanoGPT's split: matrices (and embeddings) decay, norms and biases do not.
std::vector<torch::optim::OptimizerParamGroup> param_groups(torch::nn::Module& m,
                                                            const spec::RunSpec& s) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : m.parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto with_wd = std::make_unique<torch::optim::AdamWOptions>(s.lr);
  with_wd->betas({s.beta1, s.beta2}).weight_decay(s.weight_decay).eps(1e-8);
  auto without = std::make_unique<torch::optim::AdamWOptions>(s.lr);
  without->betas({s.beta1, s.beta2}).weight_decay(0.0).eps(1e-8);
  std::vector<torch::optim::OptimizerParamGroup> g;
  g.emplace_back(decay, std::move(with_wd));
  g.emplace_back(no_decay, std::move(without));
  return g;
}

// Mean cross-entropy of MODEL on [B, T+1] token windows.
torch::Tensor lm_loss(models::Decoder& model, const torch::Tensor& window, bool autocast) {
  auto x = window.slice(1, 0, -1), y = window.slice(1, 1);
  if (autocast) {
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  }
  auto logits = model->forward(x);
  if (autocast) {
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }
  return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat),
                                              y.reshape({-1}));
}

double evaluate(models::Decoder& model, const TokenData& data, const spec::RunSpec& s,
                torch::Device dev, int64_t micro) {
  torch::NoGradGuard ng;
  model->eval();
  const int64_t want = std::max<int64_t>(1, s.eval_tokens / s.model.seq_len);
  const int64_t n = std::min(want, data.num_validation_windows());
  double sum = 0;
  for (int64_t i = 0; i < n; i += micro) {
    const int64_t c = std::min(micro, n - i);
    auto w = data.validation_windows(i, c).to(dev);
    sum += lm_loss(model, w, dev.is_cuda()).item<double>() * c;
  }
  model->train();
  return sum / n;
}

std::string eta(double s) {
  const int64_t t = static_cast<int64_t>(s);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02}", t / 60, t % 60);
}

}  // namespace

TrainResult train_run(db::Database& db, const db::Run& run, const TrainOptions& opt) {
  TrainResult res;
  const spec::RunSpec s = spec::run_spec_from_json(nlohmann::json::parse(run.spec_json));
  const torch::Device dev = pick_device(opt.device);
  std::filesystem::create_directories(opt.run_dir);
  const std::string ckpt = opt.run_dir + "/checkpoint.pt";

  torch::manual_seed(s.seed);
  models::Decoder model(s.model);
  model->init_weights(s.seed);
  model->to(dev);
  torch::optim::AdamW optim(param_groups(*model, s));
  const TokenData data = TokenData::load(s.data, s.model.vocab, s.model.seq_len);

  CheckpointInfo at{run.id, 0, 0, 0.0};
  BranchHooks branches(db, run, s, opt.run_dir);
  if (auto c = branches.load_start(ckpt, *model, optim)) at = *c;
  res.env_json = environment_json(dev, s).dump();

  const int64_t steps = branches.last_step(), batch = s.batch_size(), seq = s.model.seq_len;
  const int64_t micro = opt.micro_batch > 0 ? std::min(opt.micro_batch, batch) : batch;
  const int64_t log_every = opt.log_every > 0 ? opt.log_every : std::max<int64_t>(1, steps / 100);
  const int64_t eval_every = s.eval_interval();
  if (at.step > 0 && opt.progress)
    fmt::print(stderr, "[{}] resuming at step {}/{} from {}\n", run.id, at.step, steps,
               branches.started_from());

  const auto t0 = Clock::now();
  auto last_ckpt = t0, last_beat = t0, last_log = t0;
  double loss_sum = 0;
  int64_t loss_n = 0, tokens_here = 0, log_tokens = 0;
  for (int64_t step = at.step; step < steps; ++step) {
    if (opt.stop && opt.stop->load()) {
      at.elapsed_s += seconds_since(t0);
      save_checkpoint(ckpt, at, *model, optim);
      res.outcome = Outcome::Interrupted;
      res.steps_done = step;
      return res;
    }
    const double lr = lr_at(s, step);
    for (auto& g : optim.param_groups()) g.options().set_lr(lr);
    auto window = data.batch(Split::Train, batch, s.seed, step).to(dev);
    double step_loss = 0;
    for (int64_t i = 0; i < batch; i += micro) {
      auto w = window.slice(0, i, std::min(batch, i + micro));
      auto loss = lm_loss(model, w, dev.is_cuda());
      const double share = static_cast<double>(w.size(0)) / batch;
      (loss * share).backward();
      step_loss += loss.item<double>() * share;
    }
    if (!std::isfinite(step_loss)) {
      db.log_metrics({{run.id, step + 1, at.tokens + batch * seq, step_loss, std::nullopt, lr,
                       std::nullopt, at.elapsed_s + seconds_since(t0)}});
      res.error = fmt::format("non-finite training loss ({}) at step {}", step_loss, step + 1);
      res.steps_done = step;
      return res;
    }
    torch::nn::utils::clip_grad_norm_(model->parameters(), s.grad_clip);
    optim.step();
    optim.zero_grad();
    at.step = step + 1;
    at.tokens += batch * seq;
    tokens_here += batch * seq;
    log_tokens += batch * seq;
    loss_sum += step_loss;
    ++loss_n;
    branches.after_step(at, *model, optim);
    if (opt.on_step) opt.on_step(at.step, step_loss);

    const bool last = at.step == steps;
    const bool do_eval = at.step % eval_every == 0 || last;
    if (at.step % log_every == 0 || do_eval) {
      const double tps = log_tokens / std::max(1e-9, seconds_since(last_log));
      std::optional<double> val;
      if (do_eval) val = evaluate(model, data, s, dev, micro);
      const double elapsed = at.elapsed_s + seconds_since(t0);
      db.log_metrics({{run.id, at.step, at.tokens, loss_sum / loss_n, val, lr, tps, elapsed}});
      if (opt.progress) {
        const double rate = tokens_here / std::max(1e-9, seconds_since(t0));
        fmt::print(stderr, "[{}] step {}/{} loss {:.4f}{} lr {:.2e} {:.0f} tok/s ETA {}\n", run.id,
                   at.step, steps, loss_sum / loss_n, val ? fmt::format(" val {:.4f}", *val) : "",
                   lr, tps, eta((steps - at.step) * batch * seq / std::max(1.0, rate)));
      }
      if (last) res.final_val_loss = *val;
      loss_sum = 0;
      loss_n = 0;
      log_tokens = 0;
      last_log = Clock::now();
    }
    if (seconds_since(last_beat) >= opt.heartbeat_every_s) {
      db.heartbeat(run.id);
      last_beat = Clock::now();
    }
    if (!last && seconds_since(last_ckpt) >= opt.checkpoint_every_s) {
      CheckpointInfo c = at;
      c.elapsed_s += seconds_since(t0);
      save_checkpoint(ckpt, c, *model, optim);
      last_ckpt = Clock::now();
    }
  }
  // The trained weights stay for evals; the resumable state is no longer needed.
  torch::save(model, opt.run_dir + "/model.pt");
  std::filesystem::remove(ckpt);
  res.outcome = Outcome::Done;
  res.steps_done = steps;
  res.tokens_per_s = tokens_here / std::max(1e-9, seconds_since(t0));
  return res;
}

}  // namespace scalelab::train
