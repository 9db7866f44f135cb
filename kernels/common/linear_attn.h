// Options shared by every linear-attention op (both kernel families), so the
// chunked and recurrent forms take the same arguments under the same names.
#pragma once

#include <torch/torch.h>

#include <optional>

namespace scalelab::kernels {

struct LinearAttnOptions {
  double scale = -1.0;             // multiplies q; <= 0 means K^-0.5
  int64_t chunk_size = 64;         // chunked forms only
  bool output_final_state = true;  // return the [B,H,K,V] state after the last step
  // Packed variable-length sequences: int32/int64 [N+1] offsets into T with B == 1;
  // each sequence starts from its own initial state (initial_state [N,H,K,V]).
  std::optional<torch::Tensor> cu_seqlens;
};

// Result of every linear-attention op: output [B,T,H,V] in q's dtype, and the
// final state [B,H,K,V] (fp32) or an undefined tensor when not asked for.
struct LinearAttnResult {
  torch::Tensor o;
  torch::Tensor final_state;
};

}  // namespace scalelab::kernels
