#include "models/spec/run_spec.h"

#include <xxhash.h>

#include <cmath>
#include <cstdio>

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
  return {
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

std::string canonical_json(const RunSpec& r) { return to_json(r).dump(); }

std::string run_id(const RunSpec& r) { return run_id_of_canonical(canonical_json(r)); }

std::string run_id_of_canonical(std::string_view c) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(c.data(), c.size())));
  return buf;
}

}  // namespace scalelab::spec
