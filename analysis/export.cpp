#include "analysis/export.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace scalelab::analysis {

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.4g}", v);
}

std::string format_flops(double v) { return fmt::format("{:.2g}", v); }

nlohmann::json suite_json(const FitSuite& s) {
  nlohmann::json fits = nlohmann::json::array();
  for (const FitResult& f : s.fits) fits.push_back(to_json(f));
  return {{"fits", fits}, {"notes", s.notes}};
}

FitSuite suite_from_json(const nlohmann::json& j) {
  FitSuite s;
  for (const auto& f : j.at("fits")) s.fits.push_back(fit_result_from_json(f));
  if (j.contains("notes")) s.notes = j["notes"].get<std::vector<std::string>>();
  return s;
}

namespace {

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_num(double v) { return std::isnan(v) ? "" : fmt::format("{:.10g}", v); }

}  // namespace

std::string fits_csv(const std::vector<FitResult>& fits) {
  std::string out =
      "method,arch,quantity,at_flops,value,lo,hi,level,n_points,bootstrap_ok,extrapolation\n";
  for (const FitResult& f : fits)
    for (const auto* list : {&f.params, &f.derived})
      for (const Estimate& e : *list)
        out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", csv_cell(f.method),
                           csv_cell(f.arch), csv_cell(e.name), csv_num(e.at), csv_num(e.value),
                           csv_num(e.lo), csv_num(e.hi), f.bootstrap > 0 ? csv_num(f.level) : "",
                           f.n_points, f.bootstrap_ok, csv_cell(e.extrapolation));
  return out;
}

std::string runs_csv(const std::vector<RunPoint>& runs, NAxis axis) {
  std::string out = fmt::format(
      "id,name,arch,params,n_{},tokens,flops,final_loss,curve_points\n", to_string(axis));
  for (const RunPoint& r : runs)
    out += fmt::format("{},{},{},{},{},{},{},{},{}\n", csv_cell(r.id), csv_cell(r.name),
                       csv_cell(r.arch), csv_num(r.n_total), csv_num(r.n), csv_num(r.d),
                       csv_num(r.c), csv_num(r.loss), r.curve.size());
  return out;
}

namespace {

std::string interval(const Estimate& e) {
  if (std::isnan(e.lo) && std::isnan(e.hi)) return "";
  return fmt::format("[{}, {}]", format_number(e.lo), format_number(e.hi));
}

}  // namespace

std::string suite_text(const FitSuite& s) {
  std::string out;
  for (const FitResult& f : s.fits) {
    out += fmt::format("{} [{}]  {}  ({} points", f.method, f.arch.empty() ? "pooled" : f.arch,
                       f.formula, f.n_points);
    if (f.bootstrap > 0)
      out += fmt::format("; {:.0f}% BCa bootstrap intervals, {}/{} replicates", 100 * f.level,
                         f.bootstrap_ok, f.bootstrap);
    out += ")\n";
    if (f.bootstrap > 0 && f.extra.contains("resampling"))
      out += "  (" + f.extra["resampling"].get<std::string>() + ")\n";
    if (f.extra.contains("interval_note"))
      out += "  (" + f.extra["interval_note"].get<std::string>() + ")\n";
    for (const Estimate& e : f.params)
      out += fmt::format("  {:<26} {:>11} {}\n", e.name, format_number(e.value), interval(e));
    for (const Estimate& e : f.derived)
      out += fmt::format("  {:<26} {:>11} {}{}\n", fmt::format("{}@{}", e.name, format_flops(e.at)),
                         format_number(e.value), interval(e),
                         e.extrapolation.empty() ? "" : "  EXTRAPOLATED: " + e.extrapolation);
  }
  for (const std::string& n : s.notes) out += "note: " + n + "\n";
  return out;
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
  }
}

}  // namespace scalelab::analysis
