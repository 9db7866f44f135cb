// A progress line on stderr: bytes done of the total, tokens/s and ETA.
// On a terminal it redraws in place (at most 4 times a second); otherwise
// (a log file, CI) it prints a line every 10 seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace scalelab::data {

class Progress {
 public:
  // UNIT names what update() counts ("tokens", "lines").
  Progress(std::string label, int64_t total_bytes, bool enabled, std::string unit = "tokens");
  void update(int64_t bytes, int64_t tokens);
  // The final line (always printed when enabled).
  void finish(int64_t bytes, int64_t tokens);
  double elapsed_s() const;

 private:
  void draw(int64_t bytes, int64_t tokens, bool final);
  std::string label_, unit_;
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

// "1.5 MB", "2.3 GB": decimal units, as disks and MB/s figures are quoted.
std::string human_bytes(double b);
// "850", "12.3k", "4.5M", "1.2B".
std::string human_count(double n);

}  // namespace scalelab::data
