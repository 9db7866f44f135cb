#include "models/autocast.h"

#include <ATen/autocast_mode.h>

namespace scalelab::models {

AutocastGuard::AutocastGuard(bool enable) : enable_(enable) {
  if (!enable_) return;
  prev_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
  prev_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
}

AutocastGuard::~AutocastGuard() {
  if (!enable_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, prev_enabled_);
  at::autocast::set_autocast_dtype(at::kCUDA, prev_dtype_);
  if (!prev_enabled_) at::autocast::clear_cache();
}

}  // namespace scalelab::models
