// Long-context inference per architecture: for each sequence length, the
// prefill of one sequence (the whole prompt in one forward, through each
// mixer's parallel or chunked form, only the last position's logits made),
// then greedy decode steps from that state (an O(1) recurrent step for the
// linear mixers, one query against the KV cache for softmax), and the peak
// device memory of each. Weights fp32 under bf16 autocast, as the trainer
// and `scalelab eval` run them. Random weights: speed and memory do not
// depend on training.
//
// A length runs out of memory -> "oom" and longer lengths of that
// architecture are skipped; a prefill predicted (from the last length,
// scaled by the architecture's measured growth) to take more than
// --max-prefill-s is skipped and marked so. One JSON line per (arch,
// length) on stdout, a table at the end.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include <ATen/autocast_mode.h>
#if SCALELAB_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "models/decoder.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> archs = {"softmax", "lightning", "hgrn2", "mamba2",
                                    "hybrid(lightning,softmax@7:1)"};
  std::string shape = "L16:d768:h12:v32000";
  std::vector<int64_t> lengths = {1024, 4096, 16384, 65536, 262144, 1048576};
  int decode_steps = 16;
  double max_prefill_s = 30;
  std::string device = "auto";
};

void sync(torch::Device d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

void reset_peak(torch::Device d) {
#if SCALELAB_HAVE_CUDA
  if (d.is_cuda()) {
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(d.index());
  }
#endif
  (void)d;
}

double peak_bytes(torch::Device d) {
#if SCALELAB_HAVE_CUDA
  if (d.is_cuda()) {
    const auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(d.index());
    return static_cast<double>(s.allocated_bytes[0].peak);
  }
#endif
  (void)d;
  return std::nan("");
}

double seconds(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t state_bytes(const scalelab::models::DecoderState& st) {
  int64_t b = 0;
  for (const auto& l : st.layers)
    for (const torch::Tensor* t : {&l.k, &l.v, &l.ssm})
      if (t->defined()) b += t->numel() * t->element_size();
  return b;
}

struct Result {
  std::string arch, status = "ok";
  int64_t length = 0;
  double prefill_s = NAN, decode_ms = NAN, prefill_peak = NAN, decode_peak = NAN, state = NAN;
};

Result measure(scalelab::models::Decoder& m, const std::string& arch, int64_t len, const Options& o,
               torch::Device dev) {
  Result r{arch, "ok", len};
  torch::NoGradGuard ng;
  auto tokens = torch::randint(m->spec().vocab, {1, len}, torch::dtype(torch::kLong).device(dev));
  {
    scalelab::models::DecoderState warm;  // kernels' first-call set-up out of the timing
    m->last_logits(tokens.narrow(1, 0, std::min<int64_t>(len, 256)), warm);
  }
  sync(dev);
  reset_peak(dev);
  scalelab::models::DecoderState st;
  auto t0 = Clock::now();
  auto logits = m->last_logits(tokens, st);
  sync(dev);
  r.prefill_s = seconds(t0);
  r.prefill_peak = peak_bytes(dev);
  r.state = static_cast<double>(state_bytes(st));
  tokens = torch::Tensor();
  auto next = logits.argmax(-1, true);
  next = m->forward(next, st).select(1, -1).argmax(-1, true);  // one step untimed
  sync(dev);
  t0 = Clock::now();
  for (int i = 0; i < o.decode_steps; ++i) next = m->forward(next, st).select(1, -1).argmax(-1, true);
  sync(dev);
  r.decode_ms = seconds(t0) * 1e3 / o.decode_steps;
  r.decode_peak = peak_bytes(dev);
  return r;
}

nlohmann::json to_json(const Result& r) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"arch", r.arch},           {"length", r.length},          {"status", r.status},
          {"prefill_s", num(r.prefill_s)}, {"decode_ms", num(r.decode_ms)},
          {"peak_bytes", num(r.decode_peak)}, {"prefill_peak_bytes", num(r.prefill_peak)},
          {"state_bytes", num(r.state)}};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Long-context prefill, decode and memory per architecture"};
  app.add_option("--archs", o.archs, "mixer parts of the descriptors")->delimiter(',');
  app.add_option("--shape", o.shape, "descriptor fields after the mixer")->capture_default_str();
  app.add_option("--lengths", o.lengths, "sequence lengths")->delimiter(',');
  app.add_option("--decode-steps", o.decode_steps, "timed decode steps per length")->capture_default_str();
  app.add_option("--max-prefill-s", o.max_prefill_s, "skip a prefill predicted to take longer")
      ->capture_default_str();
  app.add_option("--device", o.device, "auto | cpu | cuda")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const torch::Device dev =
      o.device == "auto" ? (torch::cuda::is_available() ? torch::Device("cuda:0") : torch::kCPU)
                         : torch::Device(o.device);
  at::autocast::set_autocast_enabled(at::kCUDA, dev.is_cuda());
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  std::vector<Result> all;
  for (const std::string& arch : o.archs) {
    scalelab::models::Decoder m(scalelab::spec::parse_descriptor(arch + ":" + o.shape));
    m->init_weights(0);
    m->to(dev);
    m->eval();
    bool out = false;
    // Prefill time grows as length^p: p from the last two lengths (at least
    // 1), 2 (quadratic) until there are two.
    double last_s = 0, p = 2;
    int64_t last_len = 0;
    for (int64_t len : o.lengths) {
      Result r{arch, "ok", len};
      const double predicted = last_len ? last_s * std::pow(double(len) / double(last_len), p) : 0;
      if (out) {
        r.status = "not run (a shorter length did not fit)";
      } else if (predicted > o.max_prefill_s) {
        r.status = fmt::format("not run (prefill predicted {:.0f} s)", predicted);
        out = true;
      } else {
        try {
          r = measure(m, arch, len, o, dev);
          if (last_len && last_s > 0.02)
            p = std::max(1.0, std::log(r.prefill_s / last_s) / std::log(double(len) / double(last_len)));
          last_s = r.prefill_s;
          last_len = len;
        } catch (const c10::OutOfMemoryError&) {
          r.status = "out of memory";
          out = true;
        } catch (const std::exception& e) {
          // A kernel that cannot take this length is a finding too; say which.
          const std::string what = e.what();
          r.status = "error: " + what.substr(0, std::min(what.find('\n'), size_t{160}));
          out = true;
        }
        reset_peak(dev);
      }
      fmt::print("{}\n", to_json(r).dump());
      std::fflush(stdout);
      all.push_back(r);
    }
  }
  // Table: per length, each arch's prefill / decode / peak, and speedup vs the first arch.
  fmt::print("\n| arch | length | prefill s | decode ms/token | peak GiB | state MiB | prefill speedup vs {0} | decode speedup vs {0} |\n|---|---|---|---|---|---|---|---|\n",
             o.archs.front());
  for (const Result& r : all) {
    const Result* base = nullptr;
    for (const Result& b : all)
      if (b.arch == o.archs.front() && b.length == r.length && b.status == "ok") base = &b;
    auto f = [](double v, const char* fmtstr) { return std::isfinite(v) ? fmt::format(fmt::runtime(fmtstr), v) : std::string("-"); };
    if (r.status != "ok") {
      fmt::print("| {} | {} | {} | | | | | |\n", r.arch, r.length, r.status);
      continue;
    }
    fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r.arch, r.length, f(r.prefill_s, "{:.3f}"),
               f(r.decode_ms, "{:.2f}"), f(r.decode_peak / (1 << 30), "{:.2f}"), f(r.state / (1 << 20), "{:.1f}"),
               base ? f(base->prefill_s / r.prefill_s, "{:.2f}x") : "-",
               base ? f(base->decode_ms / r.decode_ms, "{:.2f}x") : "-");
  }
  return 0;
}
