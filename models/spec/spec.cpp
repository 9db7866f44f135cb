#include "models/spec/spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

namespace scalelab::spec {

std::string_view to_string(MixerKind m) { return m ? std::string_view(m->name) : "?"; }

int ModelSpec::ffn() const {
  if (d_ffn > 0) return d_ffn;
  // Llama's SwiGLU keeps the MLP's parameter count near 8 d^2 with 8/3 d
  // hidden units, rounded up to a multiple of 64 for efficient matmuls.
  const int64_t unit = 64;
  const int64_t raw = 8 * int64_t{d_model};  // 3 * hidden before rounding
  return static_cast<int>((raw + 3 * unit - 1) / (3 * unit) * unit);
}

int ModelSpec::count(MixerKind m) const {
  return static_cast<int>(std::count(layers.begin(), layers.end(), m));
}

int ModelSpec::field(int id) const {
  const int v = mixer_fields.at(static_cast<size_t>(id));
  return v != kFieldUnset ? v : spec::mixer_fields().at(static_cast<size_t>(id))->fallback;
}

int ModelSpec::field(std::string_view column) const { return field(field_id(column)); }

void ModelSpec::set_field(std::string_view column, int value) {
  mixer_fields[static_cast<size_t>(field_id(column))] = value;
}

bool operator==(const ModelSpec& a, const ModelSpec& b) {
  return a.arch == b.arch && a.layers == b.layers && a.n_layers == b.n_layers &&
         a.d_model == b.d_model && a.n_heads == b.n_heads && a.kv_heads() == b.kv_heads() &&
         a.ffn() == b.ffn() && a.vocab == b.vocab && a.seq_len == b.seq_len &&
         a.tie_embeddings == b.tie_embeddings && a.mixer_fields == b.mixer_fields;
}

namespace {

std::string str(std::string_view s) { return std::string(s); }

// A non-negative decimal integer; nullopt for anything else (sign, junk, overflow).
std::optional<int> parse_int(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// The mixer part of a descriptor, parsed: one mixer everywhere, or a hybrid
// of `base` with `other` placed by a ratio or by explicit indices.
struct ArchPattern {
  MixerKind base = nullptr;
  std::optional<MixerKind> other;
  int ratio_base = 0, ratio_other = 0;  // ratio form: a:b
  std::vector<int> indices;             // index form: [i,j,...], sorted
};

std::vector<int> parse_indices(std::string_view list, std::string_view pattern) {
  std::vector<int> idx;
  if (list.empty()) throw SpecError("arch", "hybrid index list is empty in '" + str(pattern) + "'");
  for (std::string_view tok : split(list, ',')) {
    auto v = parse_int(tok);
    if (!v)
      throw SpecError("arch", "hybrid layer index '" + str(tok) + "' is not a non-negative integer");
    idx.push_back(*v);
  }
  std::sort(idx.begin(), idx.end());
  auto dup = std::adjacent_find(idx.begin(), idx.end());
  if (dup != idx.end())
    throw SpecError("arch", "hybrid layer index " + std::to_string(*dup) + " is listed twice");
  return idx;
}

ArchPattern parse_arch(std::string_view arch) {
  ArchPattern p;
  const std::string_view prefix = "hybrid(";
  if (arch.substr(0, prefix.size()) != prefix) {
    p.base = mixer(arch);
    return p;
  }
  if (arch.back() != ')')
    throw SpecError("arch", "hybrid descriptor '" + str(arch) + "' must end with ')'");
  const std::string_view inner = arch.substr(prefix.size(), arch.size() - prefix.size() - 1);
  const size_t comma = inner.find(',');
  const size_t at = inner.find('@');
  if (comma == std::string_view::npos || at == std::string_view::npos || at < comma)
    throw SpecError("arch", "hybrid needs the form hybrid(A,B@a:b) or hybrid(A,B@[i,j,...]), got '" +
                                str(arch) + "'");
  p.base = mixer(inner.substr(0, comma));
  p.other = mixer(inner.substr(comma + 1, at - comma - 1));
  if (*p.other == p.base)
    throw SpecError("arch", "hybrid mixers must differ, got " + str(to_string(p.base)) + " twice");
  const std::string_view pattern = inner.substr(at + 1);
  if (pattern.size() >= 2 && pattern.front() == '[' && pattern.back() == ']') {
    p.indices = parse_indices(pattern.substr(1, pattern.size() - 2), pattern);
    return p;
  }
  const size_t colon = pattern.find(':');
  std::optional<int> a, b;
  if (colon != std::string_view::npos) {
    a = parse_int(pattern.substr(0, colon));
    b = parse_int(pattern.substr(colon + 1));
  }
  if (!a || !b)
    throw SpecError("arch", "hybrid pattern '" + str(pattern) + "' is neither a:b nor [i,j,...]");
  if (*a < 1 || *b < 1)
    throw SpecError("arch", "hybrid ratio " + str(pattern) + " needs both counts >= 1");
  p.ratio_base = *a;
  p.ratio_other = *b;
  return p;
}

std::string canonical_arch(const ArchPattern& p) {
  if (!p.other) return str(to_string(p.base));
  std::string s = "hybrid(" + str(to_string(p.base)) + "," + str(to_string(*p.other)) + "@";
  if (p.indices.empty()) {
    s += std::to_string(p.ratio_base) + ":" + std::to_string(p.ratio_other);
  } else {
    s += "[";
    for (size_t i = 0; i < p.indices.size(); ++i)
      s += (i ? "," : "") + std::to_string(p.indices[i]);
    s += "]";
  }
  return s + ")";
}

std::vector<MixerKind> layer_list(const ArchPattern& p, int n_layers) {
  std::vector<MixerKind> layers(n_layers, p.base);
  if (!p.other) return layers;
  if (p.indices.empty()) {
    const int period = p.ratio_base + p.ratio_other;
    if (n_layers % period != 0)
      throw SpecError("arch", "hybrid ratio " + std::to_string(p.ratio_base) + ":" +
                                  std::to_string(p.ratio_other) + " repeats every " +
                                  std::to_string(period) + " layers; layers (" +
                                  std::to_string(n_layers) + ") is not a multiple of " +
                                  std::to_string(period));
    for (int i = 0; i < n_layers; ++i)
      if (i % period >= p.ratio_base) layers[i] = *p.other;
    return layers;
  }
  for (int i : p.indices) {
    if (i >= n_layers)
      throw SpecError("arch", "hybrid layer index " + std::to_string(i) + " is out of range: layers (" +
                                  std::to_string(n_layers) + ") allows 0.." +
                                  std::to_string(n_layers - 1));
    layers[i] = *p.other;
  }
  return layers;
}

void require_min(const char* field, int value, int min, const char* note = "") {
  if (value < min)
    throw SpecError(field, std::string(field) + " must be >= " + std::to_string(min) + note +
                               ", got " + std::to_string(value));
}

// Far beyond any model trained (the deepest have ~10^2 layers, the widest
// ~2*10^4 channels, vocabularies ~10^6): a larger value is a typo. The bounds
// keep every parameter and FLOP count inside int64 (layers x width^2 < 2^57),
// and a descriptor costs O(layers) to count.
constexpr int kMaxLayers = 10000;
constexpr int kMaxWidth = 1 << 20;    // d_model
constexpr int kMaxFfn = 1 << 22;
constexpr int kMaxVocab = 1 << 24;
constexpr int kMaxSeqLen = 1 << 24;

void require_max(const char* field, int value, int max) {
  if (value > max)
    throw SpecError(field, std::string(field) + " must be <= " + std::to_string(max) + ", got " +
                               std::to_string(value));
}

void check_shapes(const ModelSpec& s) {
  require_min("d_model", s.d_model, 1);
  require_min("heads", s.n_heads, 1);
  require_min("kv_heads", s.n_kv_heads, 0, " (0 = heads)");
  require_min("ffn", s.d_ffn, 0, " (0 = 8/3 d_model rounded up to 64)");
  require_min("vocab", s.vocab, 1);
  require_min("seq_len", s.seq_len, 1);
  require_max("d_model", s.d_model, kMaxWidth);
  require_max("heads", s.n_heads, s.d_model);
  require_max("ffn", s.d_ffn, kMaxFfn);
  require_max("vocab", s.vocab, kMaxVocab);
  require_max("seq_len", s.seq_len, kMaxSeqLen);
  if (s.n_heads % s.kv_heads() != 0)
    throw SpecError("kv_heads", "kv_heads (" + std::to_string(s.kv_heads()) +
                                    ") must divide heads (" + std::to_string(s.n_heads) + ")");
}

// "a", "a or b", "a, b or c": the used mixers that have FLAG.
std::string names_with(bool MixerDef::*flag) {
  std::vector<std::string> names;
  for (MixerKind k : mixers())
    if (k->*flag) names.push_back(k->name);
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

// What the layers' mixers need of the shared shape (head dim, kv heads, RoPE).
void check_shared_shape(const ModelSpec& s) {
  auto any = [&](bool MixerDef::*flag) {
    return std::any_of(s.layers.begin(), s.layers.end(), [&](MixerKind k) { return k->*flag; });
  };
  if (any(&MixerDef::head_dim_from_heads) && s.d_model % s.n_heads != 0)
    throw SpecError("heads", "heads (" + std::to_string(s.n_heads) + ") must divide d_model (" +
                                 std::to_string(s.d_model) + ")");
  if (!any(&MixerDef::uses_kv_heads) && s.kv_heads() != s.n_heads)
    throw SpecError("kv_heads", "kv_heads (" + std::to_string(s.kv_heads()) + ") differs from heads (" +
                                    std::to_string(s.n_heads) + ") but " + s.arch + " has no " +
                                    names_with(&MixerDef::uses_kv_heads) + " layer");
  for (MixerKind k : mixers()) {
    // RoPE rotates pairs of channels within a head.
    if (k->rope && s.count(k) > 0 && s.head_dim() % 2 != 0)
      throw SpecError("heads", k->name +
                                   " layers need an even head dim for RoPE; d_model/heads = " +
                                   std::to_string(s.d_model) + "/" + std::to_string(s.n_heads) +
                                   " = " + std::to_string(s.head_dim()));
  }
}

// Every mixer field: the used mixers' get explicit values (checked), the
// others must be unset or at their default (otherwise two descriptors of the
// same model would get two run ids) and end unset; then each used mixer's
// own resolve.
void resolve_mixer_fields(ModelSpec& s) {
  for (MixerKind k : mixers()) {
    const bool used = s.count(k) > 0;
    for (const MixerField& f : k->fields) {
      int& v = s.mixer_fields[static_cast<size_t>(f.id)];
      if (used) {
        if (v == ModelSpec::kFieldUnset) v = f.fallback;
        require_min(f.column.c_str(), v, f.min);
      } else if (v != ModelSpec::kFieldUnset && v != f.fallback) {
        throw SpecError(f.column, f.column + " (" + std::to_string(v) + ") applies to " + k->name +
                                      " layers only; " + s.arch + " has none");
      } else {
        v = ModelSpec::kFieldUnset;
      }
    }
  }
  for (MixerKind k : mixers())
    if (k->resolve && s.count(k) > 0) k->resolve(s);
}

}  // namespace

void resolve(ModelSpec& spec) {
  require_min("layers", spec.n_layers, 1);
  require_max("layers", spec.n_layers, kMaxLayers);
  std::string arch;
  for (char c : spec.arch)
    if (!std::isspace(static_cast<unsigned char>(c))) arch += c;
  if (arch.empty()) throw SpecError("arch", "arch is empty");
  const ArchPattern p = parse_arch(arch);
  check_shapes(spec);
  spec.layers = layer_list(p, spec.n_layers);
  spec.arch = canonical_arch(p);
  check_shared_shape(spec);
  resolve_mixer_fields(spec);
  // Explicit values make the canonical form independent of today's defaults.
  spec.n_kv_heads = spec.kv_heads();
  spec.d_ffn = spec.ffn();
}

namespace {

// Splits "hybrid(a,b@7:1):L12" into the mixer part and the field list: the
// pattern itself may contain ':', so a hybrid ends at its ')'.
std::pair<std::string_view, std::string_view> split_mixer(std::string_view d) {
  size_t end = d.find(':');
  if (d.substr(0, 7) == "hybrid(") {
    const size_t close = d.find(')');
    end = close == std::string_view::npos ? d.size() : close + 1;
    if (end < d.size() && d[end] != ':')
      throw SpecError("arch", "unexpected '" + str(d.substr(end)) + "' after " + str(d.substr(0, end)));
  }
  if (end == std::string_view::npos) return {d, {}};
  return {d.substr(0, end), end < d.size() ? d.substr(end + 1) : std::string_view{}};
}

struct FieldDef {
  std::string_view key;
  const char* field;
  int ModelSpec::*member;
};
const FieldDef kFields[] = {
    {"L", "layers", &ModelSpec::n_layers}, {"d", "d_model", &ModelSpec::d_model},
    {"h", "heads", &ModelSpec::n_heads},   {"kv", "kv_heads", &ModelSpec::n_kv_heads},
    {"f", "ffn", &ModelSpec::d_ffn},       {"v", "vocab", &ModelSpec::vocab},
    {"T", "seq_len", &ModelSpec::seq_len},
};

// The field a key names, and where its value goes.
std::optional<std::pair<std::string, int*>> find_field(ModelSpec& spec, std::string_view key) {
  for (const FieldDef& f : kFields)
    if (key == f.key) return std::pair{std::string(f.field), &(spec.*f.member)};
  for (const MixerField* f : mixer_fields())
    if (key == f->key) return std::pair{f->column, &spec.mixer_fields[static_cast<size_t>(f->id)]};
  return std::nullopt;
}

std::string known_keys() {
  std::string keys;
  for (const FieldDef& f : kFields) keys += str(f.key) + ", ";
  for (const MixerField* f : mixer_fields()) keys += f->key + ", ";
  return keys;
}

void apply_field(ModelSpec& spec, std::string_view tok, std::set<std::string>& seen,
                 std::string_view desc) {
  auto once = [&](const std::string& name) {
    if (!seen.insert(name).second)
      throw SpecError(name, "field " + name + " is given twice in '" + str(desc) + "'");
  };
  if (tok == "tied" || tok == "untied") {
    once("tie_embeddings");
    spec.tie_embeddings = tok == "tied";
    return;
  }
  // A field is a key (no digits: none ends in one) followed by its value.
  const size_t split_at = std::min(tok.find_first_of("0123456789"), tok.size());
  const std::string_view key = tok.substr(0, split_at), digits = tok.substr(split_at);
  auto field = digits.empty() ? std::nullopt : find_field(spec, key);
  if (!field)
    throw SpecError("arch", "unknown field '" + str(tok) + "' in '" + str(desc) + "' (expected " +
                                known_keys() + "tied or untied followed by a number)");
  const auto& [name, slot] = *field;
  once(name);
  auto v = parse_int(digits);
  if (!v)
    throw SpecError(name, name + " value '" + str(digits) + "' is not a non-negative integer in '" +
                              str(desc) + "'");
  *slot = *v;
}

}  // namespace

ModelSpec parse_descriptor(std::string_view descriptor) {
  std::string d;
  for (char c : descriptor)
    if (!std::isspace(static_cast<unsigned char>(c))) d += c;
  if (d.empty()) throw SpecError("arch", "model descriptor is empty");
  auto [mixer, fields] = split_mixer(d);
  ModelSpec spec;
  spec.arch = str(mixer);
  std::set<std::string> seen;
  if (!fields.empty() || d.back() == ':') {
    for (std::string_view tok : split(fields, ':')) {
      if (tok.empty()) throw SpecError("arch", "empty field in '" + d + "'");
      apply_field(spec, tok, seen, d);
    }
  }
  resolve(spec);
  return spec;
}

std::string to_descriptor(const ModelSpec& in) {
  ModelSpec s = in;
  resolve(s);
  std::string d = s.arch + ":L" + std::to_string(s.n_layers) + ":d" + std::to_string(s.d_model) +
                  ":h" + std::to_string(s.n_heads) + ":kv" + std::to_string(s.kv_heads()) +
                  ":f" + std::to_string(s.ffn()) + ":v" + std::to_string(s.vocab) + ":T" +
                  std::to_string(s.seq_len) + (s.tie_embeddings ? ":tied" : ":untied");
  for (MixerKind k : mixers()) {
    if (s.count(k) == 0) continue;
    for (const MixerField& f : k->fields) d += ":" + f.key + std::to_string(s.field(f.id));
  }
  return d;
}

}  // namespace scalelab::spec
