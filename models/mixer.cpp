#include "models/mixer.h"

#include <map>

#include "models/hgrn2.h"
#include "models/lightning.h"
#include "models/mamba2.h"
#include "models/softmax.h"

namespace scalelab::models {

namespace {

template <class M>
MixerFactory factory() {
  return [](const MixerArgs& a) { return std::make_shared<M>(a); };
}

const std::map<spec::MixerKind, MixerFactory>& registry() {
  static const std::map<spec::MixerKind, MixerFactory> r = {
      {spec::MixerKind::Softmax, factory<SoftmaxAttention>()},
      {spec::MixerKind::Lightning, factory<LightningAttention>()},
      {spec::MixerKind::Hgrn2, factory<Hgrn2Attention>()},
      {spec::MixerKind::Mamba2, factory<Mamba2Mixer>()},
  };
  return r;
}

}  // namespace

std::shared_ptr<TokenMixer> make_mixer(spec::MixerKind kind, const MixerArgs& args) {
  auto it = registry().find(kind);
  TORCH_CHECK(it != registry().end(), "no mixer registered for ", spec::to_string(kind));
  return it->second(args);
}

}  // namespace scalelab::models
