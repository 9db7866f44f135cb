// What the evals ask of a model, as two functions, so scoring is tested with
// hand-made predictors (a perfect copier, a constant) as well as real models.
//
// Generation uses each mixer's own step form through models::DecoderState:
// the prompt is prefilled in one forward (chunked kernels for the linear
// mixers, SDPA for softmax), then every new token is one step (an O(1)
// recurrent update for linear mixers, one query against the KV cache for
// softmax, a bounded cache for swa).
#pragma once

#include <torch/torch.h>

#include <functional>

#include "models/decoder.h"

namespace scalelab::evals {

// inputs [B, T] int64 -> the argmax next token at every position [B, T] int64.
using NextTokens = std::function<torch::Tensor(const torch::Tensor& inputs)>;
// prompts [B, T] int64 (the same length), n -> the greedy continuation [B, n] int64.
using Greedy = std::function<torch::Tensor(const torch::Tensor& prompts, int64_t n)>;

// MODEL's forms of the two (inputs may be on the CPU; results are on the CPU).
// On a GPU they run under bf16 autocast, as training does.
NextTokens next_tokens_of(models::Decoder model, torch::Device dev);
Greedy greedy_of(models::Decoder model, torch::Device dev);

// Per-token next-token cross-entropy of WINDOWS [N, T + 1] (inputs [:, :-1],
// targets [:, 1:]) summed over rows: [T] fp64 on the CPU, in micro-batches of
// BATCH rows.
torch::Tensor token_loss_sums(models::Decoder model, torch::Device dev, const torch::Tensor& windows,
                              int64_t batch);

}  // namespace scalelab::evals
