#include "data/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace scalelab::data {
namespace {

using Clock = std::chrono::steady_clock;

std::string clock_time(double s) {
  const auto t = static_cast<int64_t>(s);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02}", t / 60, t % 60);
}

}  // namespace

std::string human_bytes(double b) {
  if (b < 1e3) return fmt::format("{:.0f} B", b);
  if (b < 1e6) return fmt::format("{:.1f} kB", b / 1e3);
  if (b < 1e9) return fmt::format("{:.1f} MB", b / 1e6);
  return fmt::format("{:.2f} GB", b / 1e9);
}

std::string human_count(double n) {
  if (n < 1e3) return fmt::format("{:.0f}", n);
  if (n < 1e6) return fmt::format("{:.1f}k", n / 1e3);
  if (n < 1e9) return fmt::format("{:.1f}M", n / 1e6);
  return fmt::format("{:.2f}B", n / 1e9);
}

Progress::Progress(std::string label, int64_t total_bytes, bool enabled, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total_bytes),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_(start_) {}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void Progress::update(int64_t bytes, int64_t tokens) {
  if (!enabled_) return;
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (since < (tty_ ? 0.25 : 10.0)) return;
  last_ = now;
  draw(bytes, tokens, false);
}

void Progress::finish(int64_t bytes, int64_t tokens) {
  if (enabled_) draw(bytes, tokens, true);
}

void Progress::draw(int64_t bytes, int64_t tokens, bool final) {
  const double t = std::max(1e-9, elapsed_s());
  const double pct = total_ > 0 ? 100.0 * static_cast<double>(bytes) / static_cast<double>(total_) : 100;
  const double rate = static_cast<double>(bytes) / t;
  const std::string eta =
      final ? "took " + clock_time(t)
            : "ETA " + (rate > 0 ? clock_time(static_cast<double>(total_ - bytes) / rate) : "?");
  const std::string line = fmt::format(
      "{}: {} / {} ({:.0f}%), {} {}, {} {}/s, {}/s, {}", label_, human_bytes(bytes),
      human_bytes(total_), pct, human_count(tokens), unit_, human_count(tokens / t),
      unit_ == "tokens" ? "tok" : unit_, human_bytes(rate), eta);
  if (tty_) std::fprintf(stderr, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace scalelab::data
