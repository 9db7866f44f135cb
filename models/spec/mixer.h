// The torch-free half of the mixer registry: everything the descriptor
// parser, the accounting and the planner know about a token mixer.
//
// Each mixer declares one MixerDef in models/mixers/<name>/spec.cpp (compiled
// into this library) and its LibTorch module in models/mixers/<name>/module.cpp
// (models/mixer.h); models/mixers/list.h lists the built-in ones, one line
// each. The parser, count_params, train_flops_per_token, the planner's
// activation memory and sheet columns iterate the registry: nothing outside a
// mixer's folder names it. A test or a plugin may add one more with
// register_mixer() before it parses descriptors or plans sheets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/mixers/list.h"

namespace scalelab::spec {

struct ModelSpec;
struct MixerDef;
// A mixer is its registry entry; entries live as long as the program, so
// kinds compare (and hash) as pointers.
using MixerKind = const MixerDef*;

// Slots of ModelSpec::mixer_fields (and of the planner's sheet columns): the
// integer fields of every registered mixer together.
inline constexpr int kMaxMixerFields = 24;

// One integer field a mixer adds to the descriptor and to the sheet.
struct MixerField {
  std::string key;     // descriptor key: "ds" in "mamba2:L24:d768:ds64"
  std::string column;  // sheet column and SpecError field: "mamba_d_state"
  int fallback = 0;    // the default
  int min = 1;         // smallest allowed value
  int id = -1;         // slot in ModelSpec::mixer_fields; set by register_mixer
};

struct MixerDef {
  std::string name;  // "softmax": the descriptor's mixer part and hybrid() operand
  std::vector<MixerField> fields;
  // d_model / heads is this mixer's head dim, so heads must divide d_model.
  bool head_dim_from_heads = true;
  bool uses_kv_heads = false;  // GQA: kv_heads may differ from heads
  bool rope = false;           // rotary embedding: the head dim must be even
  // A tiny model of this mixer, for the tests that iterate the registry:
  // everything after "<name>:", e.g. "L2:d32:h4:v64".
  std::string tiny;
  // After the fields are set and checked: derived defaults (explicit values
  // keep the canonical form stable) and extra shape checks, throwing SpecError
  // naming the field. nullptr: none.
  void (*resolve)(ModelSpec&) = nullptr;
  // Exact parameters of one layer's mixer, norms and biases included (the
  // block's own norms and SwiGLU excluded).
  int64_t (*params)(const ModelSpec&) = nullptr;
  // Weights one token multiplies with in one layer's mixer: 2 FLOPs each.
  int64_t (*matmul_weights)(const ModelSpec&) = nullptr;
  // Forward FLOPs per token of the sequence mixing itself (no weights).
  double (*mixing_flops)(const ModelSpec&) = nullptr;
  // Elements one token leaves for the backward pass in one layer's mixer, in
  // bf16 units (an fp32 element counts 2); sweep/accounting.h multiplies.
  double (*activation_elements)(const ModelSpec&) = nullptr;
  // Parameters the model holds once for all N layers of this mixer (hgrn2's
  // lower bounds); nullptr: none. The module half registers the tensor.
  int64_t (*shared_params)(const ModelSpec&, int n_layers) = nullptr;
};

// Adds DEF after the built-ins and assigns its fields' slots. Throws
// std::invalid_argument for a name, key or column already taken, a missing
// count, or more than kMaxMixerFields fields in all. Not thread-safe: register
// before anything parses a descriptor.
MixerKind register_mixer(MixerDef def);
// Every mixer, built-ins first, in registration order (the order of
// messages, canonical descriptors and sheet columns).
const std::vector<MixerKind>& mixers();
// The mixer called NAME, or nullptr.
MixerKind find_mixer(std::string_view name);
// The mixer called NAME; throws SpecError("arch") listing the known ones.
MixerKind mixer(std::string_view name);
// Every registered field, by id (index = MixerField::id).
const std::vector<const MixerField*>& mixer_fields();
// The id of the field whose column is COLUMN; throws std::out_of_range.
int field_id(std::string_view column);

// Each built-in's MixerDef, defined in its models/mixers/<name>/spec.cpp.
namespace builtin {
#define SCALELAB_DECLARE_MIXER_DEF(name) MixerDef name();
SCALELAB_MIXERS(SCALELAB_DECLARE_MIXER_DEF)
#undef SCALELAB_DECLARE_MIXER_DEF
}  // namespace builtin

// Building blocks for the mixers' counts.

// Mean number of keys a causal token sees through a window of W keys (its
// own included) over a sequence of length T: min(t+1, W) averaged over t;
// W >= T gives (T+1)/2.
double mean_window_span(int64_t t, int64_t w);
// Weights of multi-head attention with GQA, no biases (Llama): Wq [d, h*hd],
// Wk and Wv [d, kv*hd], Wo [h*hd, d] with h*hd == d.
int64_t attention_weights(const ModelSpec& s);
// Elements one token leaves for backward in an attention layer with flash
// attention (no T x T scores; Korthikanti et al. 2022): input of the qkv
// projection, q, k and v (GQA shrinks k, v), and the attention output that
// feeds the output projection.
double attention_activation_elements(const ModelSpec& s);

// Chunk length the FLOP and memory counts assume for the chunked linear
// mixers; equals the kernels' default LinearAttnOptions::chunk_size.
inline constexpr int kLinearChunk = 64;
// Mean number of earlier-or-same positions a token attends to inside blocks
// of length BLOCK over a sequence of length T (causal): BLOCK >= T gives
// (T+1)/2, the softmax case.
double mean_causal_span(int64_t t, int64_t block);
// Forward FLOPs per token of chunked linear attention (Lightning Attention-2,
// SSD, GLA) with HEADS heads of key dim K and value dim V over seq_len T,
// chunk kLinearChunk: per head, intra-chunk q.k over the causal span c
// (2 K c) and weights * v (2 V c), inter-chunk q^T S (2 K V), and the
// chunk's contribution K_c^T V_c to the state (2 K V).
double chunked_linear_flops(int64_t t, double heads, double k, double v);
// Elements per token of the per-chunk [K, V] states the chunked form keeps
// for backward (fp32: 2 bf16 units each): 2 H K V / kLinearChunk.
double chunk_state_elements(double heads, double k, double v);

}  // namespace scalelab::spec
