// Model descriptors (`hgrn2:L12:d768`, `hybrid(lightning,softmax@7:1):L16:d1024`):
// bad ones end in SpecError; good ones count parameters and FLOPs and survive
// the round trip parse(to_descriptor(s)) == s.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "models/spec/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelab::spec;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ModelSpec s;
  try {
    s = parse_descriptor(text);
  } catch (const SpecError&) {
    return 0;
  }
  const ParamCount p = count_params(s);
  if (p.total <= 0 || p.non_embedding < 0 || p.total != p.embedding + p.non_embedding) __builtin_trap();
  if (!(train_flops_per_token(s) > 0)) __builtin_trap();
  const std::string canon = to_descriptor(s);
  ModelSpec again;
  try {
    again = parse_descriptor(canon);
  } catch (const SpecError&) {
    __builtin_trap();  // the canonical form of a valid spec must parse
  }
  if (again != s) __builtin_trap();
  return 0;
}
