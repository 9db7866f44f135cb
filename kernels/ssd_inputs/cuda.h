// CUDA launchers of Mamba2's SSD input preparation (ssd_inputs.cu); op.cpp is
// the only caller. One block per (b, t) row; bf16 tensors, fp32 gates.
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

struct SsdArgs {
  int64_t rows;
  int heads, head_dim, d_state;
  int64_t xbc_stride, dt_stride;  // row strides (elements); channels contiguous
  const void* dt;                 // bf16 or fp32 (dt_bf16)
  bool dt_bf16;
  const float* dt_bias;
  const float* a_log;
};
void ssd_inputs_forward(const SsdArgs& a, const void* xbc, void* q, void* k, void* v, float* g,
                        void* stream);
// dxbc [rows, H P + 2 N] bf16 (dense); ddt [rows, H] fp32 (the raw dt's
// gradient, summed over rows for dt_bias); dalog_rows [rows, H] fp32 (summed
// over rows for A_log).
void ssd_inputs_backward(const SsdArgs& a, const void* xbc, const void* dq, const void* dk,
                         const void* dv, const float* dg, void* dxbc, float* ddt, float* dalog_rows,
                         void* stream);

}  // namespace scalelab::kernels::cuda
