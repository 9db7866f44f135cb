// The module half of the mixer registry: the built-ins of models/mixers/list.h,
// then whatever register_mixer_module() adds.
#include "models/mixer.h"

#include <map>

namespace scalelab::models {

namespace {

std::map<spec::MixerKind, MixerModule>& registry() {
  static std::map<spec::MixerKind, MixerModule> r = [] {
    std::map<spec::MixerKind, MixerModule> b;
#define SCALELAB_ADD_MIXER(name) b.emplace(spec::mixer(#name), builtin::name());
    SCALELAB_MIXERS(SCALELAB_ADD_MIXER)
#undef SCALELAB_ADD_MIXER
    return b;
  }();
  return r;
}

}  // namespace

void register_mixer_module(spec::MixerKind kind, MixerModule module) {
  TORCH_CHECK(kind && module.make,
              "register_mixer_module: a mixer and its constructor are required");
  TORCH_CHECK(registry().emplace(kind, std::move(module)).second, "mixer ", kind->name,
              " already has a module");
}

const MixerModule& mixer_module(spec::MixerKind kind) {
  auto it = registry().find(kind);
  TORCH_CHECK(it != registry().end(), "no module registered for mixer ", spec::to_string(kind));
  return it->second;
}

std::shared_ptr<TokenMixer> make_mixer(spec::MixerKind kind, const MixerArgs& args) {
  return mixer_module(kind).make(args);
}

}  // namespace scalelab::models
