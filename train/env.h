// What a run records about where it ran: code version (git commit at build
// time), LibTorch version, device, host, threads and seed.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "models/spec/run_spec.h"

namespace scalelab::train {

nlohmann::json environment_json(const torch::Device& dev, const spec::RunSpec& s);
std::string code_version();  // "0.1.0+<commit>[-dirty]"

// Wall seconds since this process started (from /proc: the dynamic loading of
// LibTorch counts), for the run's start-up time.
double seconds_since_process_start();

// The dense bf16 tensor-core peak of DEV in FLOP/s, for MFU: from the GPU's
// name (H100/H200 SXM 989.4e12, A100 312e12, ...); nullopt for a CPU or an
// unknown GPU (no MFU is reported then rather than a guessed one).
std::optional<double> bf16_peak_flops(const torch::Device& dev);
std::string device_name(const torch::Device& dev);  // "NVIDIA H200", or "cpu"

// Peak bytes allocated on DEV since the last reset (0 on a CPU).
int64_t peak_memory_bytes(const torch::Device& dev);

}  // namespace scalelab::train
