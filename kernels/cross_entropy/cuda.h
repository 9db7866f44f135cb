// CUDA launcher of the fused cross-entropy rows (cross_entropy.cu); op.cpp is
// the only caller. logits [rows, vocab] bf16 (row-major, vocab % 8 == 0);
// targets [rows] int64; loss [rows] fp32.
#pragma once

#include <cstdint>

namespace scalelab::kernels::cuda {

// loss[r] = logsumexp(logits[r]) - logits[r, target[r]]; with write_grad, the
// row is overwritten by (softmax(logits[r]) - onehot(target[r])) * grad_scale.
void cross_entropy_rows(void* logits, const int64_t* targets, float* loss, int64_t rows,
                        int vocab, float grad_scale, bool write_grad, void* stream);

}  // namespace scalelab::kernels::cuda
