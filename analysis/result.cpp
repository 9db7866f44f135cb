#include "analysis/result.h"

namespace scalelab::analysis {

const Estimate* FitResult::find_param(const std::string& name) const {
  for (const Estimate& e : params)
    if (e.name == name) return &e;
  return nullptr;
}

double FitResult::param(const std::string& name) const {
  const Estimate* e = find_param(name);
  if (!e) throw std::out_of_range("fit " + method + " has no parameter " + name);
  return e->value;
}

nlohmann::json number_json(double v) {
  if (std::isfinite(v)) return v;
  if (std::isnan(v)) return "nan";
  return v > 0 ? "inf" : "-inf";
}

double number_from_json(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return kNaN;
}

namespace {

nlohmann::json estimates_json(const std::vector<Estimate>& es) {
  nlohmann::json out = nlohmann::json::array();
  for (const Estimate& e : es) {
    nlohmann::json j = {{"name", e.name}, {"value", number_json(e.value)}};
    if (!std::isnan(e.lo) || !std::isnan(e.hi))
      j["interval"] = {number_json(e.lo), number_json(e.hi)};
    if (!std::isnan(e.at)) {
      j["at_flops"] = e.at;
      j["extrapolated"] = !e.extrapolation.empty();
      if (!e.extrapolation.empty()) j["extrapolation"] = e.extrapolation;
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<Estimate> estimates_from_json(const nlohmann::json& j) {
  std::vector<Estimate> out;
  for (const auto& e : j) {
    Estimate x;
    x.name = e.at("name").get<std::string>();
    x.value = number_from_json(e.at("value"));
    if (e.contains("interval")) {
      x.lo = number_from_json(e["interval"][0]);
      x.hi = number_from_json(e["interval"][1]);
    }
    if (e.contains("at_flops")) x.at = e["at_flops"].get<double>();
    x.extrapolation = e.value("extrapolation", "");
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace

nlohmann::json to_json(const FitResult& r) {
  return {{"method", r.method},
          {"arch", r.arch},
          {"formula", r.formula},
          {"n_points", r.n_points},
          {"params", estimates_json(r.params)},
          {"derived", estimates_json(r.derived)},
          {"bootstrap", {{"replicates", r.bootstrap}, {"ok", r.bootstrap_ok}, {"level", r.level}}},
          {"extra", r.extra}};
}

FitResult fit_result_from_json(const nlohmann::json& j) {
  FitResult r;
  r.method = j.at("method").get<std::string>();
  r.arch = j.value("arch", "");
  r.formula = j.value("formula", "");
  r.n_points = j.value("n_points", 0);
  r.params = estimates_from_json(j.at("params"));
  if (j.contains("derived")) r.derived = estimates_from_json(j["derived"]);
  if (j.contains("bootstrap")) {
    r.bootstrap = j["bootstrap"].value("replicates", 0);
    r.bootstrap_ok = j["bootstrap"].value("ok", 0);
    r.level = j["bootstrap"].value("level", 0.95);
  }
  if (j.contains("extra")) r.extra = j["extra"];
  return r;
}

}  // namespace scalelab::analysis
