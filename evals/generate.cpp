#include "evals/generate.h"

#include "models/autocast.h"

namespace scalelab::evals {

using models::AutocastGuard;

NextTokens next_tokens_of(models::Decoder model, torch::Device dev) {
  return [model, dev](const torch::Tensor& inputs) mutable {
    torch::NoGradGuard ng;
    AutocastGuard ac(dev.is_cuda());
    return model->forward(inputs.to(dev)).argmax(-1).to(torch::kCPU);
  };
}

Greedy greedy_of(models::Decoder model, torch::Device dev) {
  return [model, dev](const torch::Tensor& prompts, int64_t n) mutable {
    torch::NoGradGuard ng;
    AutocastGuard ac(dev.is_cuda());
    models::DecoderState state;
    auto logits = model->last_logits(prompts.to(dev), state);  // [B, V]
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < n; ++i) {
      auto next = logits.argmax(-1);  // [B]
      out.push_back(next);
      if (i + 1 < n) logits = model->forward(next.unsqueeze(1), state).select(1, 0);
    }
    return torch::stack(out, 1).to(torch::kCPU);
  };
}

torch::Tensor token_loss_sums(models::Decoder model, torch::Device dev, const torch::Tensor& windows,
                              int64_t batch) {
  torch::NoGradGuard ng;
  AutocastGuard ac(dev.is_cuda());
  const int64_t n = windows.size(0), t = windows.size(1) - 1;
  auto sums = torch::zeros({t}, torch::kFloat64);
  for (int64_t i = 0; i < n; i += batch) {
    auto w = windows.narrow(0, i, std::min(batch, n - i)).to(dev);
    auto logits = model->forward(w.narrow(1, 0, t));  // [b, T, V] fp32
    auto ce = torch::nn::functional::cross_entropy(
        logits.reshape({-1, logits.size(-1)}), w.narrow(1, 1, t).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    sums += ce.view({-1, t}).sum(0).to(torch::kCPU, torch::kFloat64);
  }
  return sums;
}

}  // namespace scalelab::evals
