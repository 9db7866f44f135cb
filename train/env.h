// What a run records about where it ran: code version (git commit at build
// time), LibTorch version, device, host, threads and seed.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "models/spec/run_spec.h"

namespace scalelab::train {

nlohmann::json environment_json(const torch::Device& dev, const spec::RunSpec& s);
std::string code_version();  // "0.1.0+<commit>[-dirty]"

}  // namespace scalelab::train
