// The GPU training step (skipped where no GPU is present, so CI builds and
// runs these as no-ops): a step replayed from its CUDA graph equals the same
// step run eagerly, and the whole GPU trainer (bf16 autocast, fused ops,
// graphs) follows the CPU fp32 golden losses of the trainer before its
// rewrite within bf16 noise.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "models/decoder.h"
#include "tests/train/trainer_fixture.h"
#include "train/optimizer.h"
#include "train/step.h"
#include "train/trainer.h"

#if SCALELAB_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

using namespace scalelab;

namespace {

std::vector<double> step_losses(const std::string& descriptor, bool graph, int steps) {
  std::vector<double> out;
#if SCALELAB_HAVE_CUDA
  c10::cuda::CUDAStreamGuard stream(c10::cuda::getStreamFromPool());
  torch::Device dev("cuda:0");
  models::Decoder m(spec::parse_descriptor(descriptor));
  m->init_weights(5);
  m->to(dev);
  std::vector<torch::Tensor> decay, none;
  for (auto& p : m->parameters()) (p.dim() >= 2 ? decay : none).push_back(p);
  train::AdamWOptions o;
  o.lr = 3e-3;
  o.max_grad_norm = 1.0;
  train::AdamW opt(decay, none, o);
  train::StepOptions so;
  so.batch = 8;
  so.seq_len = m->spec().seq_len;
  so.micro_batch = 4;
  so.cuda_graph = graph;
  train::TrainStep step(m, opt, dev, so);
  for (int i = 0; i < steps; ++i) {
    torch::manual_seed(100 + i);
    step.input().copy_(torch::randint(0, m->spec().vocab, step.input().sizes(), torch::kInt64));
    step.run(3e-3);
    out.push_back(step.stats()[0].item<double>());
  }
  EXPECT_EQ(step.graphed(), graph) << step.capture_error();
#endif
  return out;
}

}  // namespace

TEST(GpuStep, GraphReplayEqualsEagerSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* d : {"softmax:L2:d64:h1:v256:T64", "lightning:L2:d128:h2:v256:T64",
                        "hybrid(lightning,softmax@1:1):L2:d128:h2:v512:T128"}) {
    SCOPED_TRACE(d);
    const auto eager = step_losses(d, false, 8), graphed = step_losses(d, true, 8);
    ASSERT_EQ(eager.size(), graphed.size());
    for (size_t i = 0; i < eager.size(); ++i)
      EXPECT_NEAR(eager[i], graphed[i], 1e-6 * std::abs(eager[i])) << "step " << i;
  }
}

// bf16 autocast rounds every matmul input to 8 bits of mantissa (relative
// 2^-9), which moves a 50-step loss curve by up to a few 1e-2 from fp32;
// a semantic change (lr, clipping, decay, a wrong gradient) moves it by more
// than 0.1 within 20 steps at this lr.
TEST(GpuStep, TrainerFollowsTheCpuGoldenWithinBf16Noise) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  scalelab::testing::Fixture fx;
  for (auto [name, descriptor] :
       {std::pair{"softmax", "softmax:L2:d32:h2:v256:T32"}, {"lightning", "lightning:L2:d32:h2:v256:T32"},
        {"hgrn2", "hgrn2:L2:d32:h2:v256:T32"}, {"mamba2", "mamba2:L2:d32:h2:v256:T32:ds8:hd16"},
        {"hybrid", "hybrid(lightning,softmax@1:1):L2:d32:h2:v256:T32"}}) {
    SCOPED_TRACE(name);
    auto s = scalelab::testing::tiny_spec(fx.corpus, 50, descriptor);
    s.eval_every = 25;
    db::Database db(":memory:");
    auto run = scalelab::testing::insert(db, s);
    train::TrainOptions opt;
    opt.run_dir = (fx.dir / name).string();
    opt.progress = false;
    opt.device = "cuda:0";
    opt.log_every = 1;
    auto res = train::train_run(db, run, opt);
    ASSERT_EQ(res.outcome, train::Outcome::Done) << res.error;
    std::ifstream in(std::string(SCALELAB_SOURCE_DIR) + "/tests/golden/trainer/" + name + ".txt");
    std::vector<double> want;
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && line[0] != '#') want.push_back(std::stod(line.substr(line.find(' ') + 1)));
    const auto got = db.metrics(run.id);
    ASSERT_EQ(got.size(), want.size());
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(*got[i].train_loss - want[i]));
    std::printf("%s: worst |gpu loss - cpu golden| over 50 steps %.3e (graph %s)\n", name, worst,
                nlohmann::json::parse(res.perf_json).value("cuda_graph", false) ? "on" : "off");
    EXPECT_LT(worst, 0.05);
  }
}
