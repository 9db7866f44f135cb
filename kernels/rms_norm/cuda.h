// CUDA launchers of the fused RMSNorm (rms_norm.cu); op.cpp is the only caller.
// x and y are row-major [rows, d] with d % 8 == 0 and 16-byte aligned rows;
// the weight is fp32 [d]; rstd is fp32 [rows] (saved by the forward).
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

struct RmsNormFwd {
  const void* x;   // fp32 or bf16 (x_bf16)
  const float* w;
  void* y;         // fp32 or bf16 (y_bf16)
  float* rstd;
  int64_t rows;
  int d;
  float eps;
  bool x_bf16, y_bf16;
  // Residual form (add_rms_norm; x fp32 only): h = x + a is written to h and
  // normalised. a is bf16 (a_bf16) or fp32.
  const void* a = nullptr;
  float* h = nullptr;
  bool a_bf16 = true;
};
void rms_norm_forward(const RmsNormFwd& a, void* stream);

struct RmsNormBwd {
  const void* dy;  // y's dtype
  const void* x;   // x's dtype
  const float* w;
  const float* rstd;
  void* dx;        // x's dtype
  float* dw_partial;  // [rms_norm_backward_blocks(rows, d), d], summed by the caller
  int64_t rows;
  int d;
  bool x_bf16, y_bf16;
  // Residual form (x is the saved h, fp32): dx += dh (when dh is set) and the
  // same gradient is written once more to da in a's dtype.
  const float* dh = nullptr;
  void* da = nullptr;
  bool a_bf16 = true;
};
// Blocks of the backward (and rows of dw_partial): fixed for a shape and GPU,
// so the weight gradient is summed in the same order on every run.
int rms_norm_backward_blocks(int64_t rows, int d);
void rms_norm_backward(const RmsNormBwd& a, void* stream);
// Largest d the kernels take (shared memory of the backward).
inline constexpr int kRmsNormMaxDim = 8192;

}  // namespace scalelab::kernels::cuda

namespace scalelab::kernels::cuda {

// Gated RMSNorm (gated.cu): u = x (+ v * D[col / (d / heads)] when v is set);
// kBefore: y = norm(u * act(g)) * w; after: y = norm(u) * w * act(g);
// act = sigmoid or silu. x, g, v bf16 [rows, d] (g with its own row stride);
// y bf16 or fp32; D fp32 [heads].
struct GatedNormArgs {
  const void* x;
  const void* g;
  int64_t g_stride;
  const void* v;    // or null
  const float* D;   // [heads] or null
  int heads;
  const float* w;
  int64_t rows;
  int d;
  float eps;
  bool before, silu, y_bf16;
};
void gated_rms_norm_forward(const GatedNormArgs& a, void* y, float* rstd, void* stream);
// dx, dg (dense [rows, d]), dv (if v) in bf16; partial [blocks, v ? 2 : 1, d]
// fp32: row 0 the weight gradient, row 1 (with v) du * v per column (summed
// over a head's columns by the caller for dD).
void gated_rms_norm_backward(const GatedNormArgs& a, const void* dy, const float* rstd, void* dx,
                             void* dg, void* dv, float* partial, void* stream);

}  // namespace scalelab::kernels::cuda
