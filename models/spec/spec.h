// Model descriptors and exact accounting (parameters, FLOPs): plain C++, no
// LibTorch, shared by the planner, the trainer and the analysis.
//
// A model is a short descriptor string parsed once into a ModelSpec:
//   "softmax:L12:d768:h12"                      Llama-style decoder
//   "lightning:L12:d768:h12"                    Lightning attention everywhere
//   "hgrn2:L12:d768:h12", "mamba2:L24:d768", "gdn:L12:d768:h6:gk128"
//   "swa:L12:d768:h12:w1024"                    sliding-window attention
//   "hybrid(lightning,softmax@7:1):L16:d1024"   7 lightning then 1 softmax, repeated
//   "hybrid(mamba2,softmax@[5,11]):L12:d768"    softmax at layers 5 and 11 only
// Fields after the mixer part (any order): L layers, d d_model, h heads, kv kv
// heads, f ffn, v vocab, T seq_len, tied / untied, and each mixer's own
// fields (models/mixers/<name>/spec.cpp; mamba2: ds d_state, ex expand, hd
// head dim, dc conv width; swa: w window; gdn: gk head dim, gv value
// expansion, gc conv width). Unset fields keep their defaults. The mixers are
// the registry's (models/spec/mixer.h). The planner builds the same ModelSpec
// from sheet columns.
// Hybrid patterns: "A,B@a:b" = a layers of A then b of B, repeated (layers
// must be a multiple of a+b); "A,B@[i,j,...]" = B at those 0-based layers.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "models/spec/mixer.h"

namespace scalelab::spec {

std::string_view to_string(MixerKind m);  // the mixer's name

// Thrown for every bad descriptor or shape; `field` names what is wrong
// ("arch", "heads", "d_model", ...) so a sheet error can point at its column.
struct SpecError : std::invalid_argument {
  SpecError(std::string field, const std::string& msg)
      : std::invalid_argument(msg), field(std::move(field)) {}
  std::string field;
};

struct ModelSpec {
  std::string arch = "softmax";  // canonical mixer part of the descriptor
  std::vector<MixerKind> layers;  // resolved mixer of every layer; size n_layers
  int n_layers = 2;
  int d_model = 128;
  int n_heads = 4;
  int n_kv_heads = 0;   // softmax GQA; 0 means n_heads
  int d_ffn = 0;        // SwiGLU hidden width; 0 means round_up(8/3 d_model, 64)
  int vocab = 256;
  int seq_len = 256;
  bool tie_embeddings = true;
  // Integer fields owned by single mixers (mamba2's d_state, swa's window,
  // ...), by MixerField::id; kFieldUnset takes the field's default. resolve()
  // sets those of the mixers the model uses and clears the others.
  static constexpr int kFieldUnset = std::numeric_limits<int>::min();
  std::array<int, kMaxMixerFields> mixer_fields = unset_fields();

  int head_dim() const { return d_model / n_heads; }
  int kv_heads() const { return n_kv_heads > 0 ? n_kv_heads : n_heads; }
  int ffn() const;  // d_ffn resolved
  int count(MixerKind m) const;  // layers using mixer m (after resolve)
  // A mixer field's value (its default when unset), by id or by column name.
  int field(int id) const;
  int field(std::string_view column) const;
  void set_field(std::string_view column, int value);

  static constexpr std::array<int, kMaxMixerFields> unset_fields() {
    std::array<int, kMaxMixerFields> a{};
    for (int& v : a) v = kFieldUnset;
    return a;
  }
};
// Field-by-field equality (compare resolved specs).
bool operator==(const ModelSpec& a, const ModelSpec& b);
inline bool operator!=(const ModelSpec& a, const ModelSpec& b) { return !(a == b); }

// Parses a descriptor (see the file comment); validates; throws SpecError.
ModelSpec parse_descriptor(std::string_view descriptor);
// Resolves spec.arch into spec.layers for spec.n_layers and checks every shape
// (heads divide d_model, kv heads divide heads, hybrid pattern fits the layer
// count, ...). Throws SpecError naming the field.
void resolve(ModelSpec& spec);
// The canonical descriptor: parse_descriptor(to_descriptor(s)) == s.
std::string to_descriptor(const ModelSpec& spec);

struct ParamCount {
  int64_t total = 0;
  int64_t embedding = 0;      // input embedding (+ untied output head)
  int64_t non_embedding = 0;  // total - embedding: the N of Kaplan-style fits
};
// Exact count of the parameters the LibTorch module will hold.
ParamCount count_params(const ModelSpec& spec);
// Parameters of one token mixer of kind m (without the block's norms / SwiGLU,
// and without the parameters a mixer shares across its layers, such as
// HGRN2's lower bounds, which count_params adds).
int64_t mixer_params(const ModelSpec& spec, MixerKind m);

// Training FLOPs per token, forward + backward (3x forward), including the
// sequence-mixing terms (each mixer derives its own in its spec.cpp):
//   forward = 2 d vocab                                   output head
//           + sum over layers of 2 (W_mixer + 3 d ffn)    every weight matmul
//           + sum over layers of the mixer's mixing FLOPs
//               softmax: 4 d span(T, T)                   q.k and p.v, causal
//               linear:  H (2 (K+V) span(T, C) + 4 K V)   chunked form
//   train   = 3 forward
// span(T, B) = mean causal span inside blocks of B over T tokens ((T+1)/2 when
// B >= T); C = kLinearChunk; H, K, V = heads, key and value dims.
// Elementwise ops (norms, gates) are omitted.
double train_flops_per_token(const ModelSpec& spec);
// 6 N: the Kaplan/Chinchilla approximation, for comparison.
double approx_flops_per_token(const ModelSpec& spec);

}  // namespace scalelab::spec
