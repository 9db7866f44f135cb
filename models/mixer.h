// Token mixers: the one part of a block that differs between architectures.
// Each mixer computes its projections and gates, then calls a shared op
// (SDPA, or a kernel family in kernels/). This is the LibTorch half of the
// mixer registry (the torch-free half, with counts and fields, is
// models/spec/mixer.h): each mixer's models/mixers/<name>/module.cpp returns
// a MixerModule, and the decoder builds every layer through make_mixer(), so
// it never names an architecture.
#pragma once

#include <torch/torch.h>

#include <any>
#include <functional>
#include <memory>
#include <string>

#include "models/common.h"
#include "models/mixers/list.h"
#include "models/spec/spec.h"

namespace scalelab::models {

// What a mixer carries from one token to the next during generation.
// Softmax-style mixers keep a KV cache (growing, or bounded by a window); the
// linear mixers keep an O(1) recurrent state. Anything else (a conv buffer)
// is the mixer's own, in `own`: its type is defined beside the mixer and
// nothing else reads it.
struct MixerState {
  torch::Tensor k, v;  // attention: cache [B, kv_heads, t, head_dim]
  torch::Tensor ssm;   // linear: recurrent state [B, H, K, V] (fp32)
  int64_t pos = 0;     // tokens consumed so far (RoPE position of the next one)
  std::any own;        // the mixer's own carry; empty at the start

  // The mixer's own carry as a T, default-constructed on first use.
  template <class T>
  T& own_as() {
    if (!own.has_value()) own = T{};
    return std::any_cast<T&>(own);
  }
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
// (lightning's decay depends on depth), the layer's index among the layers of
// its own mixer, and the model-level parameter that mixer shares across its
// layers (MixerModule::shared; hgrn2's lower bounds), or undefined.
struct MixerArgs {
  const spec::ModelSpec& spec;
  int layer;
  int kind_index = 0;
  torch::Tensor shared;
};

// A mixer's module half. `make` builds one layer. A mixer whose layers share
// a model-level parameter sets `shared_name` (the decoder registers it under
// that name), `make_shared` (the tensor for N layers; its size must equal
// spec::MixerDef::shared_params) and `init_shared`.
struct MixerModule {
  std::function<std::shared_ptr<TokenMixer>(const MixerArgs&)> make;
  std::string shared_name;
  std::function<torch::Tensor(const spec::ModelSpec&, int n_layers)> make_shared;
  std::function<void(Init&, torch::Tensor&)> init_shared;
};

// The MixerModule of a mixer class M constructed from MixerArgs, without a
// shared parameter.
template <class M>
MixerModule module_of() {
  MixerModule m;
  m.make = [](const MixerArgs& a) { return std::make_shared<M>(a); };
  return m;
}

// Registers the module half of KIND (after the built-ins of
// models/mixers/list.h); throws c10::Error if KIND already has one.
void register_mixer_module(spec::MixerKind kind, MixerModule module);
// The module half of KIND; throws c10::Error naming a mixer that has none.
const MixerModule& mixer_module(spec::MixerKind kind);
// The mixer of layer args.layer (spec.layers[args.layer]).
std::shared_ptr<TokenMixer> make_mixer(spec::MixerKind kind, const MixerArgs& args);

// Each built-in's MixerModule, defined in its models/mixers/<name>/module.cpp.
namespace builtin {
#define SCALELAB_DECLARE_MIXER_MODULE(name) MixerModule name();
SCALELAB_MIXERS(SCALELAB_DECLARE_MIXER_MODULE)
#undef SCALELAB_DECLARE_MIXER_MODULE
}  // namespace builtin

}  // namespace scalelab::models
