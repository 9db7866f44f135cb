// Autograd for a LibTorch chunked form that keeps only its inputs alive
// between forward and backward, and recomputes the rest in backward. Pays
// where the chunked form's intermediates dwarf its inputs: the vector-decay
// form's per-sub-block decay tensors are ~16x k. Gradients are those of the
// LibTorch ops themselves (first order only: no double backward).
#pragma once

#include <torch/torch.h>

#include "kernels/common/linear_attn.h"

namespace scalelab::kernels::detail {

// FORM: (q, k, v, g, initial_state, scale, chunk_size) -> result, as
// vector_decay_chunk_torch (chunk.h).
using ChunkForm = LinearAttnResult (*)(const torch::Tensor&, const torch::Tensor&,
                                       const torch::Tensor&, const torch::Tensor&,
                                       const torch::Tensor&, double, int64_t);

template <ChunkForm Form>
struct RecomputeInBackward : torch::autograd::Function<RecomputeInBackward<Form>> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::Tensor& q, const torch::Tensor& k,
                                                const torch::Tensor& v, const torch::Tensor& g,
                                                const torch::Tensor& initial_state, double scale,
                                                int64_t chunk_size) {
    ctx->save_for_backward({q, k, v, g, initial_state});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["chunk_size"] = chunk_size;
    auto r = Form(q, k, v, g, initial_state, scale, chunk_size);
    return {r.o, r.final_state};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    std::vector<torch::Tensor> x;
    for (const auto& t : ctx->get_saved_variables()) x.push_back(t.detach().requires_grad_(true));
    torch::AutoGradMode enable_grad(true);
    auto r = Form(x[0], x[1], x[2], x[3], x[4], ctx->saved_data["scale"].toDouble(),
                  ctx->saved_data["chunk_size"].toInt());
    auto grads = torch::autograd::grad({r.o, r.final_state}, x, {grad_out[0], grad_out[1]},
                                       /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    grads.emplace_back();  // scale
    grads.emplace_back();  // chunk_size
    return grads;
  }
};

// FORM through RecomputeInBackward when a gradient is wanted, directly
// otherwise. An undefined initial state becomes zeros (same result).
template <ChunkForm Form>
LinearAttnResult recompute_in_backward(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& v, const torch::Tensor& g,
                                       const torch::Tensor& initial_state, double scale,
                                       int64_t chunk_size) {
  const bool needs_grad = torch::GradMode::is_enabled() &&
                          (q.requires_grad() || k.requires_grad() || v.requires_grad() ||
                           g.requires_grad() ||
                           (initial_state.defined() && initial_state.requires_grad()));
  if (!needs_grad) return Form(q, k, v, g, initial_state, scale, chunk_size);
  auto h0 = initial_state.defined()
                ? initial_state
                : torch::zeros({q.size(0), q.size(2), q.size(3), v.size(3)},
                               q.options().dtype(q.scalar_type() == torch::kFloat64
                                                     ? torch::kFloat64
                                                     : torch::kFloat32));
  auto out = RecomputeInBackward<Form>::apply(q, k, v, g, h0, scale, chunk_size);
  return {out[0], out[1]};
}

}  // namespace scalelab::kernels::detail
