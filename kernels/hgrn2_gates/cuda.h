// CUDA launchers of HGRN2's fused gates (hgrn2_gates.cu); op.cpp is the only
// caller. h / dh [rows, 3 d] bf16 (dense), q, k, v and their gradients
// [rows, d] bf16, g and dg [rows, d] fp32, lb [d] fp32 or null.
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

void hgrn2_gates_forward(const void* h, const float* lb, void* q, void* k, void* v, float* g,
                         int64_t rows, int d, void* stream);
// Rows of the lower bound's partial gradient: [hgrn2_gates_partials(rows), d].
int hgrn2_gates_partials(int64_t rows);
void hgrn2_gates_backward(const void* h, const float* lb, const void* dq, const void* dk,
                          const void* dv, const float* dg, void* dh, float* dlb_partial,
                          int64_t rows, int d, void* stream);

}  // namespace scalelab::kernels::cuda
