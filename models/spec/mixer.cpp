// The mixer registry: the built-ins of models/mixers/list.h, then whatever
// register_mixer() adds.
#include "models/spec/mixer.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <stdexcept>

#include "models/spec/spec.h"

namespace scalelab::spec {

namespace {

// Descriptor keys every model has (spec.cpp parses them): a mixer's keys and
// columns must differ from these.
const char* const kBaseKeys[] = {"L", "d", "h", "kv", "f", "v", "T", "tied", "untied"};
const char* const kBaseColumns[] = {"arch", "layers", "d_model", "heads",         "kv_heads",
                                    "ffn",  "vocab",  "seq_len", "tie_embeddings"};

struct Registry {
  std::deque<MixerDef> defs;  // a deque never moves its elements: kinds stay valid
  std::vector<MixerKind> kinds;
  std::vector<const MixerField*> fields;

  MixerKind add(MixerDef def) {
    auto fail = [&](const std::string& why) {
      throw std::invalid_argument("mixer '" + def.name + "': " + why);
    };
    if (def.name.empty() || def.name.find_first_of(",@():[] \t") != std::string::npos)
      fail("a mixer name must be non-empty, without ',@():[]' or spaces");
    if (def.name == "hybrid" || find(def.name)) fail("the name is taken");
    if (!def.params || !def.matmul_weights || !def.mixing_flops || !def.activation_elements)
      fail("params, matmul_weights, mixing_flops and activation_elements are required");
    if (fields.size() + def.fields.size() > static_cast<size_t>(kMaxMixerFields))
      fail("more than " + std::to_string(kMaxMixerFields) + " mixer fields in all");
    for (size_t i = 0; i < def.fields.size(); ++i) {
      MixerField& f = def.fields[i];
      if (f.key.empty() || f.column.empty()) fail("a field needs a key and a column");
      if (std::isdigit(static_cast<unsigned char>(f.key.back())))
        fail("field key '" + f.key + "' must not end in a digit");
      if (taken(f.key, f.column) ||
          std::any_of(def.fields.begin(), def.fields.begin() + i,
                      [&](const MixerField& g) { return g.key == f.key || g.column == f.column; }))
        fail("field '" + f.column + "' (key '" + f.key + "') is taken");
      if (f.fallback < f.min) fail("field '" + f.column + "' defaults below its minimum");
      f.id = static_cast<int>(fields.size() + i);
    }
    defs.push_back(std::move(def));
    const MixerDef& d = defs.back();
    for (const MixerField& f : d.fields) fields.push_back(&f);
    kinds.push_back(&d);
    return &d;
  }

  bool taken(const std::string& key, const std::string& column) const {
    for (const char* k : kBaseKeys)
      if (key == k) return true;
    for (const char* c : kBaseColumns)
      if (column == c) return true;
    return std::any_of(fields.begin(), fields.end(),
                       [&](const MixerField* f) { return f->key == key || f->column == column; });
  }

  MixerKind find(std::string_view name) const {
    for (MixerKind k : kinds)
      if (k->name == name) return k;
    return nullptr;
  }
};

Registry& registry() {
  static Registry r = [] {
    Registry b;
#define SCALELAB_ADD_MIXER(name) b.add(builtin::name());
    SCALELAB_MIXERS(SCALELAB_ADD_MIXER)
#undef SCALELAB_ADD_MIXER
    return b;
  }();
  return r;
}

}  // namespace

MixerKind register_mixer(MixerDef def) { return registry().add(std::move(def)); }

const std::vector<MixerKind>& mixers() { return registry().kinds; }

MixerKind find_mixer(std::string_view name) { return registry().find(name); }

MixerKind mixer(std::string_view name) {
  if (MixerKind k = find_mixer(name)) return k;
  std::string known;
  for (MixerKind k : mixers()) known += k->name + ", ";
  throw SpecError("arch", "unknown mixer '" + std::string(name) + "' (expected " +
                              known.substr(0, known.size() - 2) + " or hybrid(A,B@pattern))");
}

const std::vector<const MixerField*>& mixer_fields() { return registry().fields; }

int field_id(std::string_view column) {
  for (const MixerField* f : mixer_fields())
    if (f->column == column) return f->id;
  throw std::out_of_range("no mixer field '" + std::string(column) + "'");
}

double mean_causal_span(int64_t t, int64_t block) {
  block = std::min(block, t);
  const int64_t full = t / block, rest = t % block;
  const double sum = static_cast<double>(full) * block * (block + 1) / 2.0 +
                     static_cast<double>(rest) * (rest + 1) / 2.0;
  return sum / static_cast<double>(t);
}

double mean_window_span(int64_t t, int64_t w) {
  if (w >= t) return mean_causal_span(t, t);
  // The first w tokens see 1..w keys, every later one w.
  const double sum = static_cast<double>(w) * (w + 1) / 2.0 + static_cast<double>(t - w) * w;
  return sum / static_cast<double>(t);
}

int64_t attention_weights(const ModelSpec& s) {
  const int64_t d = s.d_model, kv = int64_t{s.kv_heads()} * s.head_dim();
  return 2 * d * d + 2 * d * kv;
}

double attention_activation_elements(const ModelSpec& s) {
  const double d = s.d_model, hd = s.head_dim();
  return d + d + 2.0 * s.kv_heads() * hd + d;
}

double chunked_linear_flops(int64_t t, double heads, double k, double v) {
  // Decays and gates are elementwise: not counted.
  const double c = mean_causal_span(t, kLinearChunk);
  return heads * (2.0 * (k + v) * c + 4.0 * k * v);
}

double chunk_state_elements(double heads, double k, double v) {
  return 2 * heads * k * v / kLinearChunk;
}

}  // namespace scalelab::spec
