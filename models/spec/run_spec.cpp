#include "models/spec/run_spec.h"

#include <xxhash.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>

namespace scalelab::spec {

int64_t RunSpec::steps() const {
  const int64_t per_step = batch_size() * model.seq_len;
  return per_step > 0 ? (tokens + per_step - 1) / per_step : 0;
}

int64_t RunSpec::warmup_steps() const {
  const double w = warmup < 1.0 ? warmup * static_cast<double>(steps()) : warmup;
  return static_cast<int64_t>(std::llround(w));
}

int64_t RunSpec::eval_interval() const {
  if (eval_every > 0) return eval_every;
  return std::max<int64_t>(1, steps() / 20);
}

nlohmann::json to_json(const RunSpec& r) {
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  nlohmann::json j = {
      {"model", to_descriptor(r.model)},
      {"tokens", r.tokens},
      {"batch_tokens", r.batch_tokens},
      {"lr", r.lr},
      {"min_lr_ratio", r.min_lr_ratio},
      {"warmup", r.warmup},
      {"schedule", r.schedule},
      {"decay_fraction", r.decay_fraction},
      {"weight_decay", r.weight_decay},
      {"beta1", r.beta1},
      {"beta2", r.beta2},
      {"grad_clip", r.grad_clip},
      {"seed", r.seed},
      {"data", r.data},
      {"eval_every", r.eval_every},
      {"eval_tokens", r.eval_tokens},
  };
  if (r.decay_shape != "linear") j["decay_shape"] = r.decay_shape;
  if (!r.branches.empty()) j["branches"] = r.branches;
  if (!r.branch_of.empty()) {
    j["branch_of"] = r.branch_of;
    j["branch_step"] = r.branch_step;
  }
  if (r.task != "lm") {
    j["task"] = r.task;
    j["mqar_pairs"] = r.mqar_pairs;
  }
  return j;
}

namespace {
template <class T>
void read(const nlohmann::json& j, const char* key, T& out, bool required = false) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) throw SpecError(key, std::string("run spec: missing field '") + key + "'");
    return;
  }
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw SpecError(key, std::string("run spec: field '") + key + "' has the wrong type");
  }
}
}  // namespace

void check_mqar(const RunSpec& r) {
  // Layout (evals/mqar.h): the pairs take 2P tokens, each query and its
  // answer two more; the vocab holds a padding token, P or more keys and as
  // many values.
  const int64_t p = r.mqar_pairs, t = r.model.seq_len, v = r.model.vocab;
  if (p < 1) throw SpecError("mqar_pairs", "run spec: an mqar run needs mqar_pairs >= 1");
  if (4 * p > t)
    throw SpecError("mqar_pairs", "run spec: mqar_pairs " + std::to_string(p) +
                                      " needs seq_len >= 4 x pairs = " + std::to_string(4 * p) +
                                      ", got " + std::to_string(t));
  if ((v - 1) / 2 < p)
    throw SpecError("vocab", "run spec: mqar_pairs " + std::to_string(p) + " needs vocab >= " +
                                 std::to_string(2 * p + 1) + " (padding, keys, values), got " +
                                 std::to_string(v));
}

RunSpec run_spec_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw SpecError("spec", "run spec: not a JSON object");
  RunSpec r;
  std::string model;
  read(j, "model", model, true);
  r.model = parse_descriptor(model);
  read(j, "tokens", r.tokens, true);
  read(j, "batch_tokens", r.batch_tokens);
  read(j, "lr", r.lr);
  read(j, "min_lr_ratio", r.min_lr_ratio);
  read(j, "warmup", r.warmup);
  read(j, "schedule", r.schedule);
  read(j, "decay_fraction", r.decay_fraction);
  read(j, "weight_decay", r.weight_decay);
  read(j, "beta1", r.beta1);
  read(j, "beta2", r.beta2);
  read(j, "grad_clip", r.grad_clip);
  read(j, "seed", r.seed);
  read(j, "data", r.data);
  read(j, "eval_every", r.eval_every);
  read(j, "eval_tokens", r.eval_tokens);
  read(j, "decay_shape", r.decay_shape);
  read(j, "branches", r.branches);
  read(j, "branch_of", r.branch_of);
  read(j, "branch_step", r.branch_step);
  read(j, "task", r.task);
  read(j, "mqar_pairs", r.mqar_pairs);
  if (r.task != "lm" && r.task != "mqar")
    throw SpecError("task", "run spec: task '" + r.task + "' is not one of lm, mqar");
  if (r.is_mqar()) check_mqar(r);
  if (r.decay_shape != "linear" && r.decay_shape != "cosine" && r.decay_shape != "1-sqrt")
    throw SpecError("decay_shape", "run spec: decay_shape '" + r.decay_shape +
                                       "' is not one of linear, cosine, 1-sqrt");
  if ((!r.branches.empty() || !r.branch_of.empty()) && r.schedule != "wsd")
    throw SpecError("branches", "run spec: cooldown branches need schedule wsd, not '" +
                                    r.schedule + "'");
  if (r.schedule != "cosine" && r.schedule != "wsd" && r.schedule != "constant")
    throw SpecError("schedule", "run spec: schedule '" + r.schedule +
                                    "' is not one of cosine, wsd, constant");
  if (r.tokens <= 0) throw SpecError("tokens", "run spec: tokens must be positive");
  if (r.batch_tokens < r.model.seq_len)
    throw SpecError("batch_tokens", "run spec: batch_tokens (" + std::to_string(r.batch_tokens) +
                                        ") is smaller than seq_len (" +
                                        std::to_string(r.model.seq_len) + ")");
  if (!(r.lr > 0)) throw SpecError("lr", "run spec: lr must be positive");
  return r;
}

namespace {

// nlohmann's number format (shortest round-trip digits, its own exponent
// rules) is the canonical one; a sweep has few distinct real values, so each
// is formatted by nlohmann once per thread and reused.
void append_real(std::string& out, double v) {
  thread_local std::unordered_map<uint64_t, std::string> cache;
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  auto it = cache.find(bits);
  if (it == cache.end()) {
    if (cache.size() > 4096) cache.clear();
    it = cache.emplace(bits, nlohmann::json(v).dump()).first;
  }
  out += it->second;
}

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Printable ASCII other than quote and backslash is written as it is by
// nlohmann too; anything else goes through it.
void append_string(std::string& out, std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      out += nlohmann::json(std::string(s)).dump();
      return;
    }
  out += '"';
  out += s;
  out += '"';
}

}  // namespace

// The bytes of to_json(r).dump() (keys in nlohmann's sorted order), written
// directly: building the JSON tree was most of the cost of planning 100k runs.
// run_spec_test checks the two agree.
void append_canonical_json(const RunSpec& r, std::string_view model_descriptor, std::string& out) {
  out += "{\"batch_tokens\":";
  append_int(out, r.batch_tokens);
  out += ",\"beta1\":";
  append_real(out, r.beta1);
  out += ",\"beta2\":";
  append_real(out, r.beta2);
  if (!r.branch_of.empty()) {
    out += ",\"branch_of\":";
    append_string(out, r.branch_of);
    out += ",\"branch_step\":";
    append_int(out, r.branch_step);
  }
  if (!r.branches.empty()) {
    out += ",\"branches\":[";
    for (size_t i = 0; i < r.branches.size(); ++i) {
      if (i) out += ',';
      append_int(out, r.branches[i]);
    }
    out += ']';
  }
  out += ",\"data\":";
  append_string(out, r.data);
  out += ",\"decay_fraction\":";
  append_real(out, r.decay_fraction);
  if (r.decay_shape != "linear") {
    out += ",\"decay_shape\":";
    append_string(out, r.decay_shape);
  }
  out += ",\"eval_every\":";
  append_int(out, r.eval_every);
  out += ",\"eval_tokens\":";
  append_int(out, r.eval_tokens);
  out += ",\"grad_clip\":";
  append_real(out, r.grad_clip);
  out += ",\"lr\":";
  append_real(out, r.lr);
  out += ",\"min_lr_ratio\":";
  append_real(out, r.min_lr_ratio);
  out += ",\"model\":";
  append_string(out, model_descriptor);
  if (r.task != "lm") {
    out += ",\"mqar_pairs\":";
    append_int(out, r.mqar_pairs);
  }
  out += ",\"schedule\":";
  append_string(out, r.schedule);
  out += ",\"seed\":";
  append_int(out, r.seed);
  if (r.task != "lm") {
    out += ",\"task\":";
    append_string(out, r.task);
  }
  out += ",\"tokens\":";
  append_int(out, r.tokens);
  out += ",\"warmup\":";
  append_real(out, r.warmup);
  out += ",\"weight_decay\":";
  append_real(out, r.weight_decay);
  out += '}';
}

std::string canonical_json(const RunSpec& r) {
  std::string out;
  out.reserve(512);
  append_canonical_json(r, to_descriptor(r.model), out);
  return out;
}

std::string run_id(const RunSpec& r) { return run_id_of_canonical(canonical_json(r)); }

uint64_t run_id_key(std::string_view id) {
  uint64_t key = 0;
  std::from_chars(id.data(), id.data() + id.size(), key, 16);
  return key;
}

std::string run_id_of_canonical(std::string_view c) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(c.data(), c.size())));
  return buf;
}

}  // namespace scalelab::spec
