// Adding a token mixer touches only the mixer's own files: this one is
// defined and registered here, in a test, and the descriptor parser, the exact
// counts, the planner (its sheet column included), the decoder, training and
// generation take it as they take the built-ins.
//
// toy: y_t = W_o (mean_{s <= t} x_s W_v), a causal running mean of a
// projection of width tw (field toy_width, descriptor key "tw").
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <sstream>

#include "models/decoder.h"
#include "sweep/output.h"
#include "sweep/planner.h"
#include "sweep/sheet.h"

namespace scalelab {
namespace {

int toy_width(const spec::ModelSpec& s) { return s.field("toy_width"); }

spec::MixerDef toy_def() {
  spec::MixerDef m;
  m.name = "toy";
  m.fields = {{"tw", "toy_width", 16, 1}};
  m.tiny = "L2:d32:v64:tw8";
  // W_v [d, tw] and W_o [tw, d], no biases.
  m.params = [](const spec::ModelSpec& s) { return 2 * int64_t{s.d_model} * toy_width(s); };
  m.matmul_weights = m.params;
  m.mixing_flops = [](const spec::ModelSpec& s) { return 2.0 * toy_width(s); };  // sum, divide
  m.activation_elements = [](const spec::ModelSpec& s) { return s.d_model + 2.0 * toy_width(s); };
  return m;
}

// The running sum and count carried between generation calls.
struct ToyState {
  torch::Tensor sum;  // [B, tw]
};

class ToyMixer : public models::TokenMixer {
 public:
  explicit ToyMixer(const models::MixerArgs& a) {
    wv_ = register_module("wv", models::linear(a.spec.d_model, toy_width(a.spec)));
    wo_ = register_module("wo", models::linear(toy_width(a.spec), a.spec.d_model));
  }
  torch::Tensor forward(const torch::Tensor& x, models::MixerState* state) override {
    auto h = wv_(x).cumsum(1);  // [B, T, tw]
    const int64_t pos0 = state ? state->pos : 0;
    if (state) {
      ToyState& own = state->own_as<ToyState>();
      if (own.sum.defined()) h = h + own.sum.unsqueeze(1);
      own.sum = h.select(1, h.size(1) - 1);
      state->pos += x.size(1);
    }
    auto count = torch::arange(pos0 + 1, pos0 + x.size(1) + 1, x.options()).view({1, -1, 1});
    return wo_(h / count);
  }
  void init_weights(models::Init& init) override {
    init.weight(wv_->weight);
    init.residual_weight(wo_->weight);
  }

 private:
  models::Linear wv_{nullptr}, wo_{nullptr};
};

// Registered before main(), as a plugin library's static initialiser would.
const spec::MixerKind kToy = [] {
  const spec::MixerKind k = spec::register_mixer(toy_def());
  models::register_mixer_module(k, models::module_of<ToyMixer>());
  return k;
}();

TEST(ToyMixer, DescriptorsAndExactCounts) {
  const spec::ModelSpec s = spec::parse_descriptor("hybrid(toy,softmax@1:1):L4:d32:h4:v64:tw8");
  EXPECT_EQ(s.count(kToy), 2);
  EXPECT_EQ(spec::to_descriptor(s), "hybrid(toy,softmax@1:1):L4:d32:h4:kv4:f128:v64:T256:tied:tw8");
  models::Decoder m(s);
  int64_t numel = 0;
  for (const auto& p : m->parameters()) numel += p.numel();
  EXPECT_EQ(numel, spec::count_params(s).total);
  EXPECT_EQ(spec::mixer_params(s, kToy), 2 * 32 * 8);
  EXPECT_THROW(spec::parse_descriptor("softmax:tw8"), spec::SpecError);
}

TEST(ToyMixer, PlansWithItsOwnSheetColumn) {
  const auto sheet = sweep::parse_sheet(
      "arch,layers,d_model,heads,toy_width,tokens\n\"toy|hybrid(toy,softmax@1:1)\",2,32,4,4|8,1M\n",
      "toy.csv", ',');
  const sweep::Plan plan = sweep::plan_sheet(sheet, {});
  ASSERT_EQ(plan.runs.size(), 4u);
  EXPECT_EQ(plan.runs[1].row.params,
            spec::count_params(spec::parse_descriptor("toy:L2:d32:h4:tw8")).total);
  // The expanded sheet writes the column and re-plans to the same runs.
  std::ostringstream out;
  sweep::write_expanded(out, plan, ',');
  EXPECT_NE(out.str().find(",toy_width,"), std::string::npos);
  const sweep::Plan again = sweep::plan_sheet(sweep::parse_sheet(out.str(), "out.csv", ','), {});
  ASSERT_EQ(again.runs.size(), plan.runs.size());
  for (size_t i = 0; i < plan.runs.size(); ++i)
    EXPECT_EQ(again.runs[i].row.id, plan.runs[i].row.id);
}

TEST(ToyMixer, TrainsAndGenerates) {
  at::set_num_threads(1);
  torch::manual_seed(0);
  models::Decoder m(spec::parse_descriptor("toy:L2:d32:v64:tw8"));
  m->init_weights(0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  auto batch = torch::randint(64, {4, 17}, gen, torch::kLong);
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-2));
  std::vector<double> losses;
  for (int i = 0; i < 30; ++i) {
    opt.zero_grad();
    auto logits = m->forward(batch.narrow(1, 0, 16));
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 64}),
                                                     batch.narrow(1, 1, 16).reshape({-1}));
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  }
  EXPECT_LT(losses.back(), losses.front() - 0.3);
  torch::NoGradGuard no_grad;
  auto tokens = batch.narrow(1, 0, 16);
  models::DecoderState state;
  std::vector<torch::Tensor> parts = {m->forward(tokens.narrow(1, 0, 9), state)};
  for (int64_t t = 9; t < 16; ++t) parts.push_back(m->forward(tokens.narrow(1, t, 1), state));
  EXPECT_LT((torch::cat(parts, 1) - m->forward(tokens)).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace scalelab
