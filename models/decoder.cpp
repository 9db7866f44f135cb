#include "models/decoder.h"

#include <map>

#include "kernels/cross_entropy/op.h"

namespace scalelab::models {

BlockImpl::BlockImpl(const MixerArgs& a) {
  const int64_t d = a.spec.d_model;
  norm1_ = register_module("norm1", RMSNorm(d));
  mixer_ = register_module("mixer", make_mixer(a.spec.layers.at(a.layer), a));
  norm2_ = register_module("norm2", RMSNorm(d));
  mlp_ = register_module("mlp", SwiGLU(d, a.spec.ffn()));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, MixerState* state) {
  auto [h, pending] = forward_fused(x, torch::Tensor(), state);
  return h + pending;
}

std::pair<torch::Tensor, torch::Tensor> BlockImpl::forward_fused(const torch::Tensor& x,
                                                                 const torch::Tensor& pending,
                                                                 MixerState* state) {
  torch::Tensor h = x, n1;
  if (pending.defined())
    std::tie(h, n1) = norm1_->add_forward(x, pending);
  else
    n1 = norm1_(x);
  auto [h2, n2] = norm2_->add_forward(h, mixer_->forward(n1, state));
  return {h2, mlp_(n2)};
}

void BlockImpl::init_weights(Init& init) {
  norm1_->init_weights(init);
  mixer_->init_weights(init);
  norm2_->init_weights(init);
  mlp_->init_weights(init);
}

DecoderImpl::DecoderImpl(const spec::ModelSpec& s) : spec_(s) {
  spec::resolve(spec_);
  const int64_t d = spec_.d_model;
  embed_ = register_module("embed", Embedding(spec_.vocab, d));
  // Parameters a mixer shares across its layers (HGRN2's lower bounds).
  for (spec::MixerKind kind : spec::mixers()) {
    if (spec_.count(kind) == 0) continue;
    const MixerModule& m = mixer_module(kind);
    if (m.make_shared)
      shared_.push_back(
          {kind, register_parameter(m.shared_name, m.make_shared(spec_, spec_.count(kind)))});
  }
  layers_ = register_module("layers", torch::nn::ModuleList());
  std::map<spec::MixerKind, int> seen;  // layers of each mixer so far
  for (int i = 0; i < spec_.n_layers; ++i) {
    const spec::MixerKind kind = spec_.layers[i];
    torch::Tensor shared;
    for (const auto& [k, t] : shared_)
      if (k == kind) shared = t;
    layers_->push_back(Block(MixerArgs{spec_, i, seen[kind]++, shared}));
  }
  norm_ = register_module("norm", RMSNorm(d));
  if (!spec_.tie_embeddings) head_ = register_module("head", linear(d, spec_.vocab));
}

torch::Tensor DecoderImpl::hidden(const torch::Tensor& tokens, DecoderState* state) {
  TORCH_CHECK(tokens.dim() == 2, "Decoder: tokens must be [B,T], got ", tokens.sizes());
  if (state && state->layers.empty()) state->layers.resize(layers_->size());
  auto x = embed_(tokens);
  torch::Tensor pending;  // the last channel mixer's output, added in the next norm
  for (size_t i = 0; i < layers_->size(); ++i)
    std::tie(x, pending) = layers_[i]->as<BlockImpl>()->forward_fused(
        x, pending, state ? &state->layers[i] : nullptr);
  return pending.defined() ? norm_->add_forward(x, pending).second : norm_(x);
}

const torch::Tensor& DecoderImpl::head_weight() const {
  return head_ ? head_->weight : embed_->weight;
}

torch::Tensor DecoderImpl::run(const torch::Tensor& tokens, DecoderState* state) {
  auto x = hidden(tokens, state);
  return torch::nn::functional::linear(x, head_weight().to(x.scalar_type())).to(torch::kFloat32);
}

torch::Tensor DecoderImpl::loss(const torch::Tensor& tokens, const torch::Tensor& targets) {
  TORCH_CHECK(targets.sizes() == tokens.sizes(), "Decoder::loss: targets ", targets.sizes(),
              " must match tokens ", tokens.sizes());
  auto x = hidden(tokens, nullptr);
  return kernels::linear_cross_entropy(x.reshape({-1, x.size(-1)}), head_weight(),
                                       targets.reshape({-1}));
}

torch::Tensor DecoderImpl::loss(const torch::Tensor& tokens, const torch::Tensor& targets,
                                const torch::Tensor& scored) {
  if (!scored.defined()) return loss(tokens, targets);
  TORCH_CHECK(targets.sizes() == tokens.sizes(), "Decoder::loss: targets ", targets.sizes(),
              " must match tokens ", tokens.sizes());
  auto x = hidden(tokens, nullptr).index_select(1, scored);
  return kernels::linear_cross_entropy(x.reshape({-1, x.size(-1)}), head_weight(),
                                       targets.index_select(1, scored).reshape({-1}));
}

torch::Tensor DecoderImpl::last_logits(const torch::Tensor& tokens, DecoderState& state) {
  auto x = hidden(tokens, &state).select(1, -1);
  return torch::nn::functional::linear(x, head_weight().to(x.scalar_type())).to(torch::kFloat32);
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& tokens) { return run(tokens, nullptr); }

torch::Tensor DecoderImpl::forward(const torch::Tensor& tokens, DecoderState& state) {
  return run(tokens, &state);
}

void DecoderImpl::init_weights(uint64_t seed) {
  Init init(seed, spec_.n_layers);
  init.weight(embed_->weight);
  for (auto& layer : *layers_) layer->as<BlockImpl>()->init_weights(init);
  norm_->init_weights(init);
  if (head_) init.weight(head_->weight);
  for (auto& [kind, t] : shared_) mixer_module(kind).init_shared(init, t);
}

}  // namespace scalelab::models
