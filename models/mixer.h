// Token mixers: the one part of a block that differs between architectures.
// Each mixer computes its projections and gates, then calls a shared op
// (SDPA for softmax, kernels/scalar_decay for lightning and mamba2,
// kernels/vector_decay for hgrn2). The registry maps spec::MixerKind to a
// constructor, so the decoder never names an architecture.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>

#include "models/common.h"
#include "models/spec/spec.h"

namespace scalelab::models {

// What a mixer carries from one token to the next during generation. Softmax
// keeps a KV cache that grows with the sequence; the linear mixers keep an
// O(1) recurrent state.
struct MixerState {
  torch::Tensor k, v;  // softmax: cache [B, kv_heads, t, head_dim]
  torch::Tensor ssm;   // linear: recurrent state [B, H, K, V] (fp32)
  torch::Tensor conv;  // mamba2: the last (conv - 1) conv inputs [B, conv_dim, conv - 1]
  int64_t pos = 0;     // tokens consumed so far (RoPE position of the next one)
};

class TokenMixer : public torch::nn::Module {
 public:
  // x [B, T, D] -> [B, T, D], causal. With STATE, continues the sequence it
  // holds (prefill or step) and updates it; without, starts from zeros.
  virtual torch::Tensor forward(const torch::Tensor& x, MixerState* state = nullptr) = 0;
  // One token x_t [B, D] -> [B, D]: the generation path.
  torch::Tensor step(const torch::Tensor& x_t, MixerState& state) {
    return forward(x_t.unsqueeze(1), &state).squeeze(1);
  }
  virtual void init_weights(Init& init) = 0;
};

// What a constructor gets: the spec, the layer's index in the whole stack
// (lightning's decay and hgrn2's lower bound depend on depth) and, for hgrn2,
// the model-level lower-bound parameter.
struct MixerArgs {
  const spec::ModelSpec& spec;
  int layer;
  torch::Tensor hgrn2_lower_bounds;  // [n_hgrn2_layers, d_model] or undefined
  int hgrn2_index = -1;              // this layer's row in it
};

using MixerFactory = std::function<std::shared_ptr<TokenMixer>(const MixerArgs&)>;
// The mixer for spec.layers[args.layer].
std::shared_ptr<TokenMixer> make_mixer(spec::MixerKind kind, const MixerArgs& args);

}  // namespace scalelab::models
