#include "train/data.h"

namespace scalelab::train {

TokenData TokenData::load(const std::string& source, int64_t vocab, int64_t seq_len) {
  return TokenData(data::Dataset::open(source, vocab, seq_len));
}

torch::Tensor TokenData::batch(Split split, int64_t batch, uint64_t seed, int64_t step) const {
  auto out = torch::empty({batch, data_.seq_len() + 1}, torch::kInt64);
  data_.batch_into(split, batch, seed, step, out.data_ptr<int64_t>());
  return out;
}

torch::Tensor TokenData::validation_windows(int64_t first, int64_t count) const {
  auto out = torch::empty({count, data_.seq_len() + 1}, torch::kInt64);
  data_.validation_windows_into(first, count, out.data_ptr<int64_t>());
  return out;
}

}  // namespace scalelab::train
