#include "models/mixers/hgrn2/module.h"

#include "kernels/vector_decay/op.h"

namespace scalelab::models {

Hgrn2Attention::Hgrn2Attention(const MixerArgs& a)
    : heads_(a.spec.n_heads),
      head_dim_(a.spec.head_dim()),
      lower_bounds_(a.shared),
      index_(a.kind_index) {
  TORCH_CHECK(lower_bounds_.defined() && index_ >= 0 && index_ < lower_bounds_.size(0),
              "hgrn2 layer ", a.layer, " needs its row of the model's lower bounds");
  const int64_t d = a.spec.d_model;
  wq_ = register_module("wq", linear(d, d));
  wf_ = register_module("wf", linear(d, d));
  wi_ = register_module("wi", linear(d, d));
  wo_ = register_module("wo", linear(d, d));
  norm_ = register_module("norm", RMSNorm(d));
}

std::pair<torch::Tensor, torch::Tensor> Hgrn2Attention::gates(const torch::Tensor& x) {
  const int64_t b = x.size(0), t = x.size(1);
  auto f = wf_(x).to(torch::kFloat32).view({b, t, heads_, head_dim_});
  if (index_ == 0) {
    // No lower bound: log sigmoid and sigmoid(-f) stay exact where sigmoid(f)
    // rounds to 0 or 1.
    return {torch::log_sigmoid(f), torch::sigmoid(-f)};
  }
  auto p = torch::softmax(lower_bounds_.to(torch::kFloat32), 0);
  auto lb = (p.cumsum(0) - p[0])[index_].view({heads_, head_dim_});
  auto forget = lb + (1 - lb) * torch::sigmoid(f);
  return {torch::log(forget), 1 - forget};
}

torch::Tensor Hgrn2Attention::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
  auto q = torch::silu(wq_(x)).view({b, t, heads_, head_dim_});
  auto v = wi_(x).view({b, t, heads_, head_dim_});
  auto [g, k_fp32] = gates(x);
  auto k = k_fp32.to(q.scalar_type());
  torch::Tensor init = state ? state->ssm : torch::Tensor();
  kernels::LinearAttnResult r;
  if (state && t == 1) {
    r = kernels::vector_decay_step(q.select(1, 0), k.select(1, 0), v.select(1, 0), g.select(1, 0),
                                   init, 1.0);
    r.o = r.o.unsqueeze(1);
  } else {
    kernels::LinearAttnOptions opt;
    opt.scale = 1.0;
    opt.output_final_state = state != nullptr;
    r = kernels::vector_decay_chunked(q, k, v, g, init, opt);
  }
  if (state) {
    state->ssm = r.final_state;
    state->pos += t;
  }
  return wo_(norm_(r.o.reshape({b, t, d})));
}

void Hgrn2Attention::init_weights(Init& init) {
  init.weight(wq_->weight);
  init.weight(wf_->weight);
  init.weight(wi_->weight);
  init.residual_weight(wo_->weight);
  norm_->init_weights(init);
}

MixerModule builtin::hgrn2() {
  MixerModule m = module_of<Hgrn2Attention>();
  // HGRN2 sec. 3.2: the lower bounds of all hgrn2 layers, [n_layers, d].
  m.shared_name = "hgrn2_lower_bounds";
  m.make_shared = [](const spec::ModelSpec& s, int n) { return torch::zeros({n, s.d_model}); };
  // Zeros: softmax over layers is uniform, so lb_l = l / L_h (fla's init).
  m.init_shared = [](Init& init, torch::Tensor& p) { init.fill(p, 0.0); };
  return m;
}

}  // namespace scalelab::models
