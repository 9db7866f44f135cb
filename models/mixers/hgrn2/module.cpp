#include "models/mixers/hgrn2/module.h"

#include "kernels/hgrn2_gates/op.h"
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
  wqfi_ = register_module("wqfi", linear(d, 3 * d));
  wo_ = register_module("wo", linear(d, d));
  norm_ = register_module("norm", RMSNorm(d));
}

torch::Tensor Hgrn2Attention::lower_bound() const {
  if (index_ == 0) return {};  // the first HGRN2 layer has none (exact gates)
  auto p = torch::softmax(lower_bounds_.to(torch::kFloat32), 0);
  return (p.cumsum(0) - p[0])[index_];
}

torch::Tensor Hgrn2Attention::forward(const torch::Tensor& x, MixerState* state) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
  // One matmul for the query, forget gate and input, one op for the gates.
  auto gt = kernels::hgrn2_gates(wqfi_(x), lower_bound());
  auto shape = std::vector<int64_t>{b, t, heads_, head_dim_};
  auto q = gt.q.view(shape), k = gt.k.view(shape), v = gt.v.view(shape), g = gt.g.view(shape);
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
  // q, f and i drawn as three matrices: the same weights as separate layers.
  const int64_t d = wo_->weight.size(0);
  auto wq = wqfi_->weight.narrow(0, 0, d), wf = wqfi_->weight.narrow(0, d, d),
       wi = wqfi_->weight.narrow(0, 2 * d, d);
  init.weight(wq);
  init.weight(wf);
  init.weight(wi);
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
