// Fits and runs as text for people (tables) and for tools (JSON, CSV).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "analysis/data.h"
#include "analysis/fits.h"

namespace scalelab::analysis {

// 4 significant digits; "inf", "nan" spelled out.
std::string format_number(double v);
// "1.2e+19" style for FLOPs budgets.
std::string format_flops(double v);

// {"fits": [...], "notes": [...]} (to_json() of each fit).
nlohmann::json suite_json(const FitSuite& s);
FitSuite suite_from_json(const nlohmann::json& j);

// One row per estimate: method,arch,quantity,at_flops,value,lo,hi,level,n_points,bootstrap_ok,
// extrapolation ("" inside the data; else why it is a prediction beyond it).
std::string fits_csv(const std::vector<FitResult>& fits);
// One row per run: id,name,arch,params,n_<axis>,tokens,flops,final_loss,curve_points.
std::string runs_csv(const std::vector<RunPoint>& runs, NAxis axis);
// Plain-text tables, one block per fit, then the notes.
std::string suite_text(const FitSuite& s);

// Writes CONTENT to PATH through a temporary file and a rename, so a reader
// never sees half a file. Throws std::runtime_error naming PATH.
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace scalelab::analysis
