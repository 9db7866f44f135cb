// The output head and the loss in one op (as in Liger-Kernel's fused linear
// cross-entropy): the mean next-token cross-entropy of logits = h W^T,
//
//   loss = 1/N sum_n ( logsumexp_v(h_n . w_v) - h_n . w_{y_n} )
//
// h [N, D], weight [V, D] (the tied embedding or the untied head), targets [N]
// int64 in [0, V). Never materialises the [N, V] logits or an fp32 copy of
// them: on a GPU the rows go through in chunks of at most chunk_bytes of bf16
// logits; each chunk's logits are turned into their gradient in place
// ((softmax - onehot) / N, one kernel), which feeds dh and dW at once, so the
// backward only scales the saved gradients. bf16 logits with fp32 loss math,
// as torch.autocast gives. Differentiable in h and weight.
// Dispatch: the fused path for CUDA tensors with V % 8 == 0 and D % 8 == 0,
// the LibTorch reference (linear + cross_entropy in fp32) otherwise.
#pragma once

#include <torch/torch.h>

namespace scalelab::kernels {

torch::Tensor linear_cross_entropy(const torch::Tensor& h, const torch::Tensor& weight,
                                   const torch::Tensor& targets,
                                   int64_t chunk_bytes = int64_t{256} << 20);

torch::Tensor linear_cross_entropy_reference(const torch::Tensor& h, const torch::Tensor& weight,
                                             const torch::Tensor& targets);

// Rows per chunk the fused path uses for vocab V (what the planner counts).
int64_t cross_entropy_chunk_rows(int64_t rows, int64_t vocab, int64_t chunk_bytes = int64_t{256} << 20);

}  // namespace scalelab::kernels
