// CUDA launchers of the fused SwiGLU (swiglu.cu); op.cpp is the only caller.
// h is row-major [rows, 2f], y and dy [rows, f], f % 8 == 0, all one dtype.
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

void swiglu_forward(const void* h, void* y, int64_t rows, int f, bool bf16, void* stream);
void swiglu_backward(const void* h, const void* dy, void* dh, int64_t rows, int f, bool bf16,
                     void* stream);

}  // namespace scalelab::kernels::cuda
