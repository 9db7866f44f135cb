#include "train/trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>

#include "evals/mqar.h"
#include "models/decoder.h"
#include "train/branches.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/env.h"
#include "train/optimizer.h"
#include "train/prefetch.h"
#include "train/schedule.h"
#include "train/step.h"

#if SCALELAB_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace scalelab::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A data-parallel rank takes the GPU of its LOCAL_RANK.
torch::Device pick_device(const std::string& want, const DistEnv& dist) {
  const int index = dist.active ? dist.local_rank : 0;
  if (want == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, index) : torch::kCPU;
  torch::Device d(want);
  if (d.is_cuda() && !d.has_index()) d = torch::Device(torch::kCUDA, index);
  if (d.is_cuda() && !torch::cuda::is_available())
    throw std::runtime_error("train: device '" + want + "' asked for, but no CUDA GPU is visible");
  return d;
}

// nanoGPT's split: matrices (and embeddings) decay, norms and biases do not.
AdamW make_optimizer(torch::nn::Module& m, const spec::RunSpec& s) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : m.parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  AdamWOptions o;
  o.lr = s.lr;
  o.beta1 = s.beta1;
  o.beta2 = s.beta2;
  o.eps = 1e-8;
  o.weight_decay = s.weight_decay;
  o.max_grad_norm = s.grad_clip;
  return AdamW(decay, no_decay, o);
}

// Creating the CUDA context and LibTorch's CUDA state takes 1-2 s on a GPU
// node; a thread does it while the data is checked and the model is built and
// initialised on the CPU (build_model waits for it before moving the model).
std::future<void> start_gpu(const torch::Device& dev) {
  if (!dev.is_cuda()) return {};
  return std::async(std::launch::async, [dev] {
    torch::empty({1}, torch::TensorOptions().device(dev));
  });
}

models::Decoder build_model(const spec::RunSpec& s, torch::Device dev, std::future<void>& gpu) {
  models::Decoder m(s.model);
  m->init_weights(s.seed);
  if (gpu.valid()) gpu.get();  // rethrows what the context creation threw
  m->to(dev);
  return m;
}

std::optional<TokenData> load_data(const spec::RunSpec& s) {
  if (s.is_mqar()) return std::nullopt;
  return TokenData::load(s.data, s.model.vocab, s.model.seq_len);
}

evals::MqarShape mqar_shape(const spec::RunSpec& s) {
  if (!s.is_mqar()) return {};
  evals::MqarShape m{s.model.vocab, s.model.seq_len, s.mqar_pairs};
  m.check();
  return m;
}

std::string eta(double s) {
  const int64_t t = static_cast<int64_t>(s);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02}", t / 60, t % 60);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// One run's training: the state that lives across steps, and the loop.
class Trainer {
 public:
  Trainer(Reporter& out, const db::Run& run, const TrainOptions& opt)
      : out_(out),
        run_(run),
        opt_(opt),
        s_(spec::run_spec_from_json(nlohmann::json::parse(run.spec_json))),
        branches_(out.database(), run, s_, opt.run_dir),
        dev_(pick_device(opt.device, opt.dist)),
        gpu_up_(start_gpu(dev_)),
        ckpt_(opt.run_dir + "/checkpoint.pt"),
        data_(mark("data", load_data(s_))),
        mqar_(mqar_shape(s_)),
        pg_(opt.dist.active ? ProcessGroup::join(opt.dist, dev_, opt.dist_timeout) : nullptr),
        model_(mark("model", build_model(s_, dev_, gpu_up_))),
        optim_(mark("optimizer", make_optimizer(*model_, s_))) {}

  TrainResult train();

 private:
  void setup_step();
  bool flush();  // false when a non-finite loss was found (res_ says where)
  void log_row(int64_t step, double lr);
  double evaluate();
  void save();
  void write_perf();
  void join_data_parallel();
  // Stop and checkpoint decisions every rank takes at the same step: any
  // rank's stop request, rank 0's checkpoint clock.
  void agree(bool& stopping, bool& ckpt_due);
  bool lead() const { return !pg_ || pg_->rank() == 0; }
  int world() const { return pg_ ? pg_->world() : 1; }
  // Start-up phases for runs.perf: the time since process start at which
  // each ended (where a slow start went: CUDA and library load before the
  // trainer, data, model, the first step's lazy initialisation).
  template <class T>
  T mark(const char* phase, T&& value) {
    phases_.emplace_back(phase, seconds_since_process_start());
    return std::forward<T>(value);
  }

  std::vector<std::pair<std::string, double>> phases_{
      {"before_trainer", seconds_since_process_start()}};
  Reporter& out_;
  const db::Run& run_;
  const TrainOptions& opt_;
  const spec::RunSpec s_;
  BranchHooks branches_;  // WSD parents and branches: where to start, where to stop
  const torch::Device dev_;
  std::future<void> gpu_up_;  // the CUDA context, made on a thread (start_gpu)
  const std::string ckpt_;
  // Loaded (and checked) before the model takes the GPU; none for a task
  // that makes its own sequences (mqar_).
  const std::optional<TokenData> data_;
  const evals::MqarShape mqar_;
  torch::Tensor scored_;  // the task's scored positions on the device, or undefined
  std::unique_ptr<ProcessGroup> pg_;  // data parallel, else null
  models::Decoder model_;
  AdamW optim_;
  std::unique_ptr<GradSync> sync_;
  std::unique_ptr<TrainStep> step_;
  std::unique_ptr<Prefetcher> prefetch_;
  CheckpointInfo at_;
  TrainResult res_;
  int64_t micro_ = 0;

  // Per-step (loss, grad norm) rows on the device, not yet read by the host.
  torch::Tensor hist_;
  int64_t pending_ = 0;
  std::vector<double> pending_lr_;
  // Time accounting.
  Clock::time_point t0_ = Clock::now(), last_log_ = t0_;
  double eval_s_ = 0, ckpt_s_ = 0, startup_s_ = -1;
  int64_t tokens_here_ = 0, log_tokens_ = 0;
  std::vector<double> interval_tps_;
};

void Trainer::join_data_parallel() {
  const int64_t batch = s_.batch_size();
  if (batch % pg_->world() != 0)
    throw std::runtime_error(fmt::format(
        "data parallel: the batch of {} sequences does not split evenly over {} processes", batch,
        pg_->world()));
  // Same seed, same weights; the broadcast makes sure of it (and of a
  // checkpoint every rank read).
  pg_->broadcast(model_->parameters());
  sync_ = std::make_unique<GradSync>(*pg_, model_->parameters(), opt_.bucket_bytes);
}

void Trainer::setup_step() {
  const int64_t batch = s_.batch_size(), seq = s_.model.seq_len;
  // This rank's rows of every global batch: [rank * local, (rank + 1) * local).
  const int64_t local = batch / world(), first_row = (pg_ ? pg_->rank() : 0) * local;
  micro_ = opt_.micro_batch > 0 ? opt_.micro_batch : run_.micro_batch > 0 ? run_.micro_batch : batch;
  micro_ = std::min(micro_, local);
  StepOptions so;
  so.batch = local;
  so.seq_len = seq;
  so.micro_batch = micro_;
  so.cuda_graph = opt_.cuda_graph;
  if (s_.is_mqar()) {
    const std::vector<int64_t> q = evals::mqar_query_positions(mqar_);
    scored_ = torch::tensor(q, torch::kInt64).to(dev_);
    so.scored = scored_;
  }
  so.grad_sync = sync_.get();
  step_ = std::make_unique<TrainStep>(model_, optim_, dev_, so);
  const uint64_t seed = s_.seed;
  std::function<void(int64_t, int64_t*)> fill;
  if (data_) {
    const TokenData* data = &*data_;
    fill = [data, batch, seed](int64_t step, int64_t* out) {
      data->batch_into(Split::Train, batch, seed, step, out);
    };
  } else {
    const evals::MqarShape m = mqar_;
    fill = [m, batch, seed](int64_t step, int64_t* out) {
      evals::mqar_batch_into(m, batch, seed, step, out);
    };
  }
  // Data parallel: this rank's rows of the global batch. Called on the
  // prefetcher's one worker thread only.
  auto whole = std::make_shared<std::vector<int64_t>>(local == batch ? 0 : batch * (seq + 1));
  prefetch_ = std::make_unique<Prefetcher>(
      [fill, batch, local, first_row, seq, whole](int64_t step, int64_t* out) {
        if (local == batch) return fill(step, out);
        fill(step, whole->data());
        std::copy_n(whole->data() + first_row * (seq + 1), local * (seq + 1), out);
      },
      std::vector<int64_t>{local, seq + 1}, dev_, at_.step);
  const int64_t log_every =
      opt_.log_every > 0 ? opt_.log_every : std::max<int64_t>(1, s_.steps() / 100);
  hist_ = torch::zeros({log_every, 2}, torch::dtype(torch::kFloat32).device(dev_));
}

// Reads the pending steps' losses and gradient norms (the only host sync of
// the loop) into the averaging window, in step order.
bool Trainer::flush() {
  if (pending_ == 0) return true;
  auto h = hist_.narrow(0, 0, pending_).to(torch::kCPU, torch::kFloat64).contiguous();
  const double* p = h.data_ptr<double>();
  const int64_t first = at_.step - pending_;
  for (int64_t i = 0; i < pending_; ++i) {
    const int64_t step = first + i + 1;
    const double loss = p[2 * i], norm = p[2 * i + 1];
    if (!std::isfinite(loss)) {
      out_.metrics({{run_.id, step, step * s_.batch_size() * s_.model.seq_len, loss, std::nullopt,
                     pending_lr_[i], std::nullopt, at_.elapsed_s + seconds_since(t0_), norm}});
      res_.outcome = Outcome::Diverged;
      res_.error = fmt::format("non-finite training loss ({}) at step {}", loss, step);
      res_.steps_done = step - 1;
      return false;
    }
    at_.window_loss_sum += loss;
    at_.window_grad_norm_sum += norm;
    ++at_.window_steps;
    if (opt_.on_step) opt_.on_step(step, loss);
  }
  pending_ = 0;
  pending_lr_.clear();
  return true;
}

void Trainer::log_row(int64_t step, double lr) {
  const int64_t steps = branches_.last_step();
  const bool last = step == steps;
  const bool do_eval = step % s_.eval_interval() == 0 || last;
  const double interval = seconds_since(last_log_);
  const double tps = log_tokens_ / std::max(1e-9, interval);
  if (tokens_here_ > log_tokens_) interval_tps_.push_back(tps);  // not the first interval
  std::optional<double> val;
  if (do_eval) val = evaluate();
  const double n = static_cast<double>(std::max<int64_t>(1, at_.window_steps));
  const double loss = at_.window_loss_sum / n;
  out_.metrics({{run_.id, step, at_.tokens, loss, val, lr, tps, at_.elapsed_s + seconds_since(t0_),
                 at_.window_grad_norm_sum / n}});
  if (opt_.progress && lead()) {
    const double rate = tokens_here_ / std::max(1e-9, seconds_since(t0_));
    fmt::print(stderr, "[{}] step {}/{} loss {:.4f}{} lr {:.2e} {:.0f} tok/s ETA {}\n", run_.id, step,
               steps, loss, val ? fmt::format(" val {:.4f}", *val) : "", lr, tps,
               eta((steps - step) * s_.batch_tokens / std::max(1.0, rate)));
  }
  if (last) res_.final_val_loss = *val;
  at_.window_steps = 0;
  at_.window_loss_sum = at_.window_grad_norm_sum = 0;
  log_tokens_ = 0;
  last_log_ = Clock::now();
}

// Mean held-out loss over the same fixed windows for every run of a sweep.
double Trainer::evaluate() {
  const auto t = Clock::now();
  torch::NoGradGuard ng;
  AutocastGuard autocast(dev_.is_cuda());
  const int64_t want = std::max<int64_t>(1, s_.eval_tokens / s_.model.seq_len);
  // A task's held-out sequences are its fixed validation stream (evals/mqar.h).
  const int64_t n = data_ ? std::min(want, data_->num_validation_windows()) : want;
  const int64_t seq = s_.model.seq_len;
  torch::Tensor sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(dev_));
  // Data parallel: rank r takes every world-th chunk of windows.
  const int64_t rank = pg_ ? pg_->rank() : 0;
  for (int64_t i = 0, chunk = 0; i < n; i += micro_, ++chunk) {
    if (chunk % world() != rank) continue;
    const int64_t c = std::min(micro_, n - i);
    torch::Tensor w;
    if (data_) {
      w = data_->validation_windows(i, c);
    } else {
      w = torch::empty({c, seq + 1}, torch::kInt64);
      evals::mqar_validation_into(mqar_, i, c, w.data_ptr<int64_t>());
    }
    w = w.to(dev_);
    sum += model_->loss(w.narrow(1, 0, seq), w.narrow(1, 1, seq), scored_).to(torch::kFloat64) * c;
  }
  if (pg_) pg_->all_reduce_sum(sum);
  const double v = sum.item<double>() / n;
  eval_s_ += seconds_since(t);
  return v;
}

void Trainer::save() {
  if (!lead()) return;  // every rank holds the same state; one writes it
  const auto t = Clock::now();
  CheckpointInfo c = at_;
  c.elapsed_s += seconds_since(t0_);
  save_checkpoint(ckpt_, c, *model_, optim_);
  ckpt_s_ += seconds_since(t);
}

void Trainer::write_perf() {
  nlohmann::json p;
  const double steady = median(interval_tps_);
  const double train_s = seconds_since(t0_) - eval_s_ - ckpt_s_;
  p["tokens_per_s"] = steady > 0 ? steady : tokens_here_ / std::max(1e-9, train_s);
  p["tokens_per_s_overall"] = tokens_here_ / std::max(1e-9, train_s);
  p["flop_convention"] =
      "planner's exact training FLOPs per token (models/spec train_flops_per_token: 3 x forward, "
      "weight matmuls, output head, attention / state terms)";
  p["flops_per_token"] = run_.tokens > 0 ? run_.flops / static_cast<double>(run_.tokens) : 0.0;
  if (auto peak = bf16_peak_flops(dev_)) {
    p["peak_flops"] = *peak;
    p["mfu"] = p["tokens_per_s"].get<double>() * p["flops_per_token"].get<double>() /
               (*peak * world());
  }
  p["device"] = device_name(dev_);
  if (dev_.is_cuda()) p["peak_memory_bytes"] = peak_memory_bytes(dev_);
  if (run_.memory_estimate) p["memory_estimate_bytes"] = *run_.memory_estimate;
  p["startup_s"] = startup_s_;
  for (const auto& [phase, at] : phases_) p["startup_phases_s"][phase] = at;
  p["eval_s"] = eval_s_;
  p["checkpoint_s"] = ckpt_s_;
  p["train_s"] = train_s;
  p["world_size"] = world();
  if (pg_) {
    p["dist_backend"] = pg_->backend();
    p["tokens_per_s_per_gpu"] = p["tokens_per_s"].get<double>() / world();
    p["grad_buckets"] = sync_->buckets();
    p["grad_buckets_started_in_backward"] = sync_->started_in_backward();
  }
  p["micro_batch"] = micro_;
  p["accumulation"] = (s_.batch_size() / world() + micro_ - 1) / micro_;
  p["cuda_graph"] = step_ && step_->graphed();
  if (step_ && !step_->capture_error().empty()) p["cuda_graph_error"] = step_->capture_error();
  if (!at_.fallback_reason.empty()) p["checkpoint_fallback"] = at_.fallback_reason;
  res_.perf_json = p.dump();
  out_.perf(res_.perf_json);
}

void Trainer::agree(bool& stopping, bool& ckpt_due) {
  if (!pg_) return;
  const uint32_t f = pg_->any((stopping ? 1u : 0u) | (lead() && ckpt_due ? 2u : 0u));
  stopping = f & 1u;
  ckpt_due = f & 2u;
}

TrainResult Trainer::train() {
  std::filesystem::create_directories(opt_.run_dir);
  at_ = CheckpointInfo{run_.id, 0, 0, 0.0};
  if (auto c = branches_.load_start(ckpt_, *model_, optim_)) at_ = *c;
  // Said always, not only with progress output: the run lost the steps since
  // the previous checkpoint and redoes them (the same batches, so the same losses).
  if (!at_.fallback_reason.empty()) fmt::print(stderr, "[{}] warning: {}\n", run_.id, at_.fallback_reason);
  res_.env_json = environment_json(dev_, s_).dump();
#if SCALELAB_HAVE_CUDA
  // Every step runs on one non-default stream: CUDA graphs are captured on it.
  std::optional<c10::cuda::CUDAStreamGuard> stream;
  if (dev_.is_cuda()) stream.emplace(c10::cuda::getStreamFromPool(false, dev_.index()));
#endif
  // After the stream is set: GradSync makes the parameters' gradient
  // accumulators, and autograd runs each on the stream current when it was
  // made (the legacy stream, before, made every graph capture fail).
  if (pg_) join_data_parallel();
  setup_step();
  mark("setup", 0);
  const int64_t steps = branches_.last_step(), step_tokens = s_.batch_size() * s_.model.seq_len;
  const int64_t log_every = hist_.size(0);
  if (at_.step > 0 && opt_.progress && lead())
    fmt::print(stderr, "[{}] resuming at step {}/{} from {}\n", run_.id, at_.step, steps,
               branches_.started_from());
  t0_ = last_log_ = Clock::now();
  auto last_ckpt = t0_, last_beat = t0_;
  while (at_.step < steps) {
    bool ckpt_due = seconds_since(last_ckpt) >= opt_.checkpoint_every_s;
    bool stopping = opt_.stop && opt_.stop->load();
    agree(stopping, ckpt_due);
    if (stopping || ckpt_due || pending_ == log_every) {
      if (!flush()) return res_;
      if (!stopping) {
        stopping = opt_.stop && opt_.stop->load();  // on_step callbacks may have asked
        bool none = false;
        agree(stopping, none);
      }
    }
    if (stopping) {
      save();
      write_perf();
      if (pg_) pg_->shutdown();
      res_.outcome = Outcome::Interrupted;
      res_.steps_done = at_.step;
      return res_;
    }
    if (ckpt_due) {
      if (at_.step > 0) save();
      last_ckpt = Clock::now();
    }
    const double lr = lr_at(s_, at_.step);
    prefetch_->next_into(at_.step, step_->input());
    step_->run(lr);
    hist_.select(0, pending_++).copy_(step_->stats());
    pending_lr_.push_back(lr);
    ++at_.step;
    at_.tokens += step_tokens;
    tokens_here_ += step_tokens;
    log_tokens_ += step_tokens;
    const bool last = at_.step == steps;
    // A branch point gets a row, so the branches start with an empty window.
    const bool point = branches_.is_point(at_.step);
    if (at_.step % log_every == 0 || at_.step % s_.eval_interval() == 0 || last || point) {
      if (!flush()) return res_;
      if (startup_s_ < 0) startup_s_ = mark("first_step", seconds_since_process_start());
      log_row(at_.step, lr);
    } else if (startup_s_ < 0 && tokens_here_ == step_tokens) {
      if (!flush()) return res_;  // the first step's end, for the start-up time
      startup_s_ = mark("first_step", seconds_since_process_start());
    }
    if (point && lead()) {
      CheckpointInfo c = at_;
      c.elapsed_s += seconds_since(t0_);
      branches_.save_point(c, *model_, optim_);
    }
    if (seconds_since(last_beat) >= opt_.heartbeat_every_s) {
      out_.heartbeat();
      last_beat = Clock::now();
    }
  }
  // The trained weights stay for evals; the resumable state is no longer needed.
  if (lead()) {
    torch::save(model_, opt_.run_dir + "/model.pt");
    std::filesystem::remove(ckpt_);
  }
  write_perf();
  if (pg_) {
    pg_->barrier();
    pg_->shutdown();
  }
  res_.outcome = Outcome::Done;
  res_.steps_done = steps;
  res_.tokens_per_s = nlohmann::json::parse(res_.perf_json).value("tokens_per_s", 0.0);
  return res_;
}

}  // namespace

// The database under the run's lease (fenced writes).
struct DbReporter : Reporter {
  DbReporter(db::Database& d, db::Lease l) : db(d), lease(std::move(l)) {}
  void metrics(const std::vector<db::Metric>& rows) override { db.log_metrics(lease, rows); }
  void heartbeat() override { db.heartbeat(lease); }
  void perf(const std::string& json) override { db.set_run_perf(lease, json); }
  db::Database* database() override { return &db; }
  db::Database& db;
  db::Lease lease;
};

TrainResult train_run(db::Database& db, const db::Run& run, const TrainOptions& opt) {
  DbReporter out(db, {run.id, run.lease});
  return train_run(run, opt, out);
}

TrainResult train_run(const db::Run& run, const TrainOptions& opt, Reporter& out) {
  torch::manual_seed(spec::run_spec_from_json(nlohmann::json::parse(run.spec_json)).seed);
  Trainer t(out, run, opt);
  return t.train();
}

}  // namespace scalelab::train
