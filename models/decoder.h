// The one generic decoder every architecture is built on:
// embedding -> n_layers x [RMSNorm, token mixer, RMSNorm, SwiGLU] -> RMSNorm -> head.
// The mixer of layer i is spec.layers[i] (models/spec/spec.h), made by the
// mixer registry (models/mixer.h). Parameter names are stable
// ("layers.3.mixer.wq.weight"), and their count equals spec::count_params.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "models/common.h"
#include "models/mixer.h"
#include "models/spec/spec.h"

namespace scalelab::models {

// Pre-norm residual block: x + mixer(norm(x)), then + SwiGLU(norm(x)).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const MixerArgs& args);
  torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr);  // [B,T,D]
  // The same block with its residual adds fused into the norms after them
  // (kernels/rms_norm add_rms_norm): X is the residual stream before the
  // previous block's channel-mixer output PENDING was added (undefined for
  // the first block). Returns the stream after this block's token mixer and
  // this block's channel-mixer output, still to be added.
  std::pair<torch::Tensor, torch::Tensor> forward_fused(const torch::Tensor& x,
                                                        const torch::Tensor& pending,
                                                        MixerState* state);
  void init_weights(Init& init);

 private:
  RMSNorm norm1_{nullptr}, norm2_{nullptr};
  std::shared_ptr<TokenMixer> mixer_;
  SwiGLU mlp_{nullptr};
};
TORCH_MODULE(Block);

// Generation state of every layer (KV caches, recurrent states).
struct DecoderState {
  std::vector<MixerState> layers;
};

class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const spec::ModelSpec& spec);
  // tokens [B,T] int64 -> logits [B,T,vocab] (fp32)
  torch::Tensor forward(const torch::Tensor& tokens);
  // The same, continuing the sequences in STATE (empty state = from scratch)
  // and updating it: prefill with T > 1, generate with T = 1 (linear mixers
  // then take one O(1) recurrent step; softmax reads its KV cache).
  torch::Tensor forward(const torch::Tensor& tokens, DecoderState& state);
  // Mean next-token cross-entropy of tokens [B,T] against targets [B,T]
  // (fp32 scalar), with the output head fused into the loss
  // (kernels/cross_entropy): training never materialises [B,T,vocab] logits.
  torch::Tensor loss(const torch::Tensor& tokens, const torch::Tensor& targets);
  // The same over the positions SCORED ([P] int64, the same for every row)
  // only: tasks such as MQAR score a few answer positions per sequence.
  // Undefined SCORED: every position.
  torch::Tensor loss(const torch::Tensor& tokens, const torch::Tensor& targets,
                     const torch::Tensor& scored);
  // Logits of the last position only, [B, vocab] (fp32), continuing STATE
  // like forward(tokens, state): prefill a long prompt without the
  // [B, T, vocab] logits.
  torch::Tensor last_logits(const torch::Tensor& tokens, DecoderState& state);
  const spec::ModelSpec& spec() const { return spec_; }
  // Deterministic initialisation from SEED (the trainer calls it once); the
  // same seed gives the same weights on any device.
  void init_weights(uint64_t seed);

 private:
  torch::Tensor hidden(const torch::Tensor& tokens, DecoderState* state);  // final-norm output
  torch::Tensor run(const torch::Tensor& tokens, DecoderState* state);
  const torch::Tensor& head_weight() const;  // the untied head's, or the embedding's

  spec::ModelSpec spec_;
  Embedding embed_{nullptr};
  torch::nn::ModuleList layers_;
  RMSNorm norm_{nullptr};
  Linear head_{nullptr};  // null when tied to the embedding
  // Parameters a mixer shares across its layers (MixerModule::shared_name),
  // in registry order.
  std::vector<std::pair<spec::MixerKind, torch::Tensor>> shared_;
};
TORCH_MODULE(Decoder);

}  // namespace scalelab::models
