#include "train/distributed.h"

// c10d's headers declare their backends only under these (Torch's CMake
// config passes USE_C10D_GLOO on to its users, not USE_C10D_NCCL).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if SCALELAB_HAVE_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <ATen/ops/_foreach_copy.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cstdlib>
#include <stdexcept>

namespace scalelab::train {

namespace {

int env_int(const char* name, int lo, int hi, bool required, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    if (required) throw std::invalid_argument(std::string(name) + " is not set (WORLD_SIZE is)");
    return fallback;
  }
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    throw std::invalid_argument(std::string(name) + "=" + v + ": expected an integer in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv e;
  const char* ws = std::getenv("WORLD_SIZE");
  if (!ws || !*ws) return e;
  e.active = true;
  e.world = env_int("WORLD_SIZE", 1, 1 << 16, true, 1);
  e.rank = env_int("RANK", 0, e.world - 1, true, 0);
  e.local_rank = env_int("LOCAL_RANK", 0, 1 << 16, false, e.rank);
  e.master_port = env_int("MASTER_PORT", 1, 65535, e.world > 1, 29500);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) {
    e.master_addr = a;
  } else if (e.world > 1) {
    throw std::invalid_argument("MASTER_ADDR is not set (WORLD_SIZE is)");
  }
  return e;
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> data, control;
};

struct ProcessGroup::Pending {
  c10::intrusive_ptr<c10d::Work> work;
};

namespace {

c10::intrusive_ptr<c10d::Backend> gloo_group(const c10::intrusive_ptr<c10d::Store>& store,
                                             const std::string& prefix, const DistEnv& env,
                                             std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  // The default device binds to whatever this host's name resolves to; a
  // single-node run (the usual case here) stays on the loopback interface.
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (is_loopback(env.master_addr))
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  auto s = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
  return c10::make_intrusive<c10d::ProcessGroupGloo>(s, env.rank, env.world, opts);
}

}  // namespace

std::unique_ptr<ProcessGroup> ProcessGroup::join(const DistEnv& env, const torch::Device& dev,
                                                 std::chrono::seconds timeout) {
  std::unique_ptr<ProcessGroup> pg(new ProcessGroup());
  pg->impl_ = std::make_unique<Impl>();
  pg->rank_ = env.rank;
  pg->world_ = env.world;
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = env.rank == 0;
  so.numWorkers = env.world;
  so.waitWorkers = true;
  so.timeout = timeout;
  try {
    pg->impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error("distributed: rank " + std::to_string(env.rank) + " could not " +
                             (so.isServer ? "host" : "reach") + " the store at " +
                             env.master_addr + ":" + std::to_string(env.master_port) + ": " +
                             what.substr(0, what.find('\n')));
  }
  const std::chrono::milliseconds ms(timeout);
  pg->impl_->control = gloo_group(pg->impl_->store, "control/", env, ms);
  if (dev.is_cuda()) {
#if SCALELAB_HAVE_NCCL
    // NVLink multicast (NVLS) stays off: the lent multi-GPU machines cannot
    // use it, and NCCL's ring and tree need no more.
    ::setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
    c10::cuda::set_device(dev.index());
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = ms;
    auto s = c10::make_intrusive<c10d::PrefixStore>("data/", pg->impl_->store);
    pg->impl_->data = c10::make_intrusive<c10d::ProcessGroupNCCL>(s, env.rank, env.world, opts);
    pg->backend_ = "nccl";
#else
    throw std::runtime_error(
        "distributed: a GPU run needs NCCL, and this build found no nccl.h (see train/CMakeLists.txt)");
#endif
  } else {
    pg->impl_->data = gloo_group(pg->impl_->store, "data/", env, ms);
    pg->backend_ = "gloo";
  }
  return pg;
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::shutdown() {
  impl_->data->shutdown();
  impl_->control->shutdown();
}

void ProcessGroup::broadcast(std::vector<torch::Tensor> tensors) {
  torch::NoGradGuard ng;
  // One tensor a call: NCCL's broadcast takes exactly one.
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    c10d::BroadcastOptions o;
    o.rootRank = 0;
    impl_->data->broadcast(one, o)->wait();
  }
}

void ProcessGroup::all_reduce_sum(torch::Tensor t) { wait(all_reduce_sum_async(std::move(t))); }

std::shared_ptr<ProcessGroup::Pending> ProcessGroup::all_reduce_sum_async(torch::Tensor t) {
  std::vector<at::Tensor> one{std::move(t)};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  auto p = std::make_shared<Pending>();
  p->work = impl_->data->allreduce(one, o);
  return p;
}

void ProcessGroup::wait(const std::shared_ptr<Pending>& p) {
  if (p && p->work) p->work->wait();
}

uint32_t ProcessGroup::any(uint32_t flags) {
  auto bits = torch::zeros({32}, torch::kInt32);
  int32_t* p = bits.data_ptr<int32_t>();
  for (int i = 0; i < 32; ++i) p[i] = static_cast<int32_t>((flags >> i) & 1u);
  std::vector<at::Tensor> one{bits};
  impl_->control->allreduce(one)->wait();
  uint32_t out = 0;
  for (int i = 0; i < 32; ++i)
    if (p[i] > 0) out |= 1u << i;
  return out;
}

// ---- GradSync ----

struct GradSync::Bucket {
  std::vector<size_t> params;      // indices into params_
  torch::Tensor flat;              // fp32 [sum of numels]
  std::vector<torch::Tensor> views;  // flat's slices, shaped like each parameter
  size_t ready = 0;
  bool launched = false;
  std::shared_ptr<ProcessGroup::Pending> pending;
};

GradSync::GradSync(ProcessGroup& pg, std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : pg_(pg), params_(std::move(params)), bucket_of_(params_.size()) {
  TORCH_CHECK(!params_.empty(), "GradSync: no parameters");
  // Reverse registration order: the output side's gradients come first.
  auto bucket = std::make_unique<Bucket>();
  int64_t bytes = 0;
  auto close = [&] {
    if (bucket->params.empty()) return;
    int64_t n = 0;
    for (size_t i : bucket->params) n += params_[i].numel();
    bucket->flat = torch::zeros({n}, params_[0].options().dtype(torch::kFloat32));
    int64_t off = 0;
    for (size_t i : bucket->params) {
      const auto& p = params_[i];
      bucket->views.push_back(bucket->flat.narrow(0, off, p.numel()).view(p.sizes()));
      off += p.numel();
      bucket_of_[i] = buckets_.size();
    }
    buckets_.push_back(std::move(bucket));
    bucket = std::make_unique<Bucket>();
    bytes = 0;
  };
  for (size_t k = params_.size(); k-- > 0;) {
    TORCH_CHECK(params_[k].scalar_type() == torch::kFloat32, "GradSync: parameters must be fp32");
    const int64_t b = params_[k].numel() * 4;
    if (!bucket->params.empty() && bytes + b > bucket_bytes) close();
    bucket->params.push_back(k);
    bytes += b;
  }
  close();
  for (size_t i = 0; i < params_.size(); ++i) {
    auto acc = torch::autograd::impl::grad_accumulator(params_[i]);
    TORCH_CHECK(acc, "GradSync: parameter ", i, " is not a leaf that requires grad");
    acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, i](const torch::autograd::variable_list& outputs,
                  const torch::autograd::variable_list&) {
          on_ready(i);
          return outputs;
        }));
    accumulators_.push_back(std::move(acc));
  }
}

GradSync::~GradSync() = default;

void GradSync::arm() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& b : buckets_) {
    b->ready = 0;
    b->launched = false;
    b->pending.reset();
  }
  next_ = 0;
  started_in_backward_ = 0;
  armed_ = true;
}

void GradSync::on_ready(size_t param) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!armed_) return;  // an accumulation micro-batch
  ++buckets_[bucket_of_[param]]->ready;
  const size_t before = next_;
  launch_ready();
  started_in_backward_ += static_cast<int64_t>(next_ - before);
}

// Launches, in bucket order, every bucket from next_ whose gradients are all in.
void GradSync::launch_ready() {
  while (next_ < buckets_.size() && buckets_[next_]->ready == buckets_[next_]->params.size())
    launch(*buckets_[next_++]);
}

void GradSync::launch(Bucket& b) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> dst, src;
  for (size_t j = 0; j < b.params.size(); ++j) {
    const auto& g = params_[b.params[j]].grad();
    if (g.defined()) {
      dst.push_back(b.views[j]);
      src.push_back(g);
    } else {
      b.views[j].zero_();  // unused here (and, the model being the same, everywhere)
    }
  }
  if (!dst.empty()) at::_foreach_copy_(dst, src);
  b.pending = pg_.all_reduce_sum_async(b.flat);
  b.launched = true;
}

void GradSync::finish(torch::Tensor& loss) {
  torch::NoGradGuard ng;
  auto loss_sum = pg_.all_reduce_sum_async(loss);
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
    // Parameters the backward did not reach never called their hook.
    while (next_ < buckets_.size()) launch(*buckets_[next_++]);
  }
  const double inv = 1.0 / pg_.world();
  for (auto& b : buckets_) {
    ProcessGroup::wait(b->pending);
    b->flat.mul_(inv);
    std::vector<torch::Tensor> dst, src;
    for (size_t j = 0; j < b->params.size(); ++j) {
      auto& g = params_[b->params[j]].mutable_grad();
      if (!g.defined()) continue;
      dst.push_back(g);
      src.push_back(b->views[j]);
    }
    if (!dst.empty()) at::_foreach_copy_(dst, src);
  }
  ProcessGroup::wait(loss_sum);
  loss.mul_(inv);
}

}  // namespace scalelab::train
