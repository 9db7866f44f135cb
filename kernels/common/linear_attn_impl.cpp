#include "kernels/common/linear_attn_impl.h"

#include <cmath>
#include <vector>

namespace scalelab::kernels::detail {

torch::ScalarType compute_dtype(const torch::Tensor& q) {
  return q.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

double resolve_scale(double scale, int64_t head_dim_k) {
  return scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(head_dim_k));
}

namespace {

void check_cu_seqlens(const char* op, const torch::Tensor& cu, int64_t B, int64_t T,
                      const torch::Tensor& initial_state) {
  TORCH_CHECK(B == 1, op, ": cu_seqlens needs packed sequences with B == 1, got B = ", B);
  TORCH_CHECK(cu.dim() == 1 && cu.numel() >= 2, op,
              ": cu_seqlens must be 1-D with N+1 >= 2 offsets, got shape ", cu.sizes());
  TORCH_CHECK(cu.scalar_type() == torch::kInt32 || cu.scalar_type() == torch::kInt64, op,
              ": cu_seqlens must be int32 or int64, got ", cu.scalar_type());
  const auto off = cu.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* p = off.data_ptr<int64_t>();
  const int64_t n = off.numel();
  TORCH_CHECK(p[0] == 0, op, ": cu_seqlens[0] must be 0, got ", p[0]);
  TORCH_CHECK(p[n - 1] == T, op, ": cu_seqlens[-1] must equal T = ", T, ", got ", p[n - 1]);
  for (int64_t i = 1; i < n; ++i) {
    TORCH_CHECK(p[i] >= p[i - 1], op, ": cu_seqlens must be non-decreasing, but cu_seqlens[",
                i, "] = ", p[i], " < cu_seqlens[", i - 1, "] = ", p[i - 1]);
  }
  if (initial_state.defined()) {
    TORCH_CHECK(initial_state.size(0) == n - 1, op, ": initial_state must have one state per",
                " sequence (", n - 1, ") with cu_seqlens, got ", initial_state.size(0));
  }
}

}  // namespace

void check_inputs(const char* op, const torch::Tensor& q, const torch::Tensor& k,
                  const torch::Tensor& v, const torch::Tensor& g,
                  const torch::Tensor& initial_state, bool vector_gate,
                  const LinearAttnOptions& opt) {
  TORCH_CHECK(q.defined() && k.defined() && v.defined() && g.defined(), op,
              ": q, k, v and g must all be defined");
  TORCH_CHECK(q.dim() == 4, op, ": q must be [B,T,H,K], got shape ", q.sizes());
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3);
  TORCH_CHECK(k.sizes() == q.sizes(), op, ": k must match q ", q.sizes(), ", got ", k.sizes());
  TORCH_CHECK(v.dim() == 4 && v.size(0) == B && v.size(1) == T && v.size(2) == H, op,
              ": v must be [B,T,H,V] = [", B, ",", T, ",", H, ",V], got ", v.sizes());
  const int64_t V = v.size(3);
  if (vector_gate) {
    TORCH_CHECK(g.sizes() == q.sizes(), op, ": g must be [B,T,H,K] ", q.sizes(), ", got ",
                g.sizes());
  } else {
    TORCH_CHECK(g.dim() == 3 && g.size(0) == B && g.size(1) == T && g.size(2) == H, op,
                ": g must be [B,T,H] = [", B, ",", T, ",", H, "], got ", g.sizes());
  }
  for (const auto* t : {&q, &k, &v, &g}) {
    TORCH_CHECK(t->is_floating_point(), op, ": q, k, v and g must be floating point, got ",
                t->scalar_type());
    TORCH_CHECK(t->device() == q.device(), op, ": q, k, v and g must be on one device (q on ",
                q.device(), ", got ", t->device(), ")");
  }
  TORCH_CHECK(opt.chunk_size > 0, op, ": chunk_size must be > 0, got ", opt.chunk_size);
  if (initial_state.defined()) {
    TORCH_CHECK(initial_state.dim() == 4 && initial_state.size(1) == H &&
                    initial_state.size(2) == K && initial_state.size(3) == V,
                op, ": initial_state must be [B,H,K,V] = [B,", H, ",", K, ",", V, "], got ",
                initial_state.sizes());
    TORCH_CHECK(initial_state.is_floating_point() && initial_state.device() == q.device(), op,
                ": initial_state must be floating point on ", q.device());
    if (!opt.cu_seqlens) {
      TORCH_CHECK(initial_state.size(0) == B, op, ": initial_state batch must be B = ", B,
                  ", got ", initial_state.size(0));
    }
  }
  if (opt.cu_seqlens) check_cu_seqlens(op, *opt.cu_seqlens, B, T, initial_state);
}

namespace {

LinearAttnResult run_one(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                         const torch::Tensor& g, const torch::Tensor& h0,
                         const SequenceFn& fn) {
  const auto acc = compute_dtype(q);
  if (q.size(1) > 0) {
    auto r = fn(q, k, v, g, h0);
    return {r.o.to(q.scalar_type()), r.final_state.to(acc)};
  }
  const int64_t B = q.size(0), H = q.size(2), K = q.size(3), V = v.size(3);
  auto o = torch::zeros({B, 0, H, V}, q.options());
  auto s = h0.defined() ? h0.to(acc) : torch::zeros({B, H, K, V}, q.options().dtype(acc));
  return {o, s};
}

}  // namespace

LinearAttnResult run_sequences(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& g,
                               const torch::Tensor& initial_state,
                               const LinearAttnOptions& opt, const SequenceFn& fn) {
  LinearAttnResult out;
  if (!opt.cu_seqlens) {
    out = run_one(q, k, v, g, initial_state, fn);
  } else {
    // One sequence at a time keeps the reference obviously right; the CUDA
    // kernels are where packed sequences run in one launch.
    const auto off = opt.cu_seqlens->to(torch::kCPU, torch::kInt64).contiguous();
    const int64_t* p = off.data_ptr<int64_t>();
    std::vector<torch::Tensor> os, states;
    for (int64_t i = 0; i + 1 < off.numel(); ++i) {
      const int64_t s = p[i], e = p[i + 1];
      auto h0 = initial_state.defined() ? initial_state.narrow(0, i, 1) : torch::Tensor();
      auto r = run_one(q.slice(1, s, e), k.slice(1, s, e), v.slice(1, s, e), g.slice(1, s, e),
                       h0, fn);
      os.push_back(r.o);
      states.push_back(r.final_state);
    }
    out = {torch::cat(os, 1), torch::cat(states, 0)};
  }
  if (!opt.output_final_state) out.final_state = torch::Tensor();
  return out;
}

torch::Tensor to_chunks(const torch::Tensor& x, int64_t C) {
  const int64_t T = x.size(1), N = (T + C - 1) / C;
  auto y = x.transpose(1, 2);  // [B,H,T,...]
  if (N * C != T) {
    std::vector<int64_t> pad = y.sizes().vec();
    pad[2] = N * C - T;
    y = torch::cat({y, torch::zeros(pad, y.options())}, 2);
  }
  std::vector<int64_t> shape = y.sizes().vec();
  shape[2] = C;
  shape.insert(shape.begin() + 2, N);
  return y.reshape(shape);
}

}  // namespace scalelab::kernels::detail
