// Host side of the CUDA linear-attention kernels: argument preparation, the
// sequence/chunk plan (uniform batch or cu_seqlens), the launches, and the
// torch::autograd::Function (one instance per family) that wires forward and
// backward together.
#include "kernels/common/cuda.h"
#include "kernels/common/cuda_plan.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <vector>

#include "kernels/common/la_params.cuh"
#include "kernels/common/linear_attn_impl.h"

namespace scalelab::kernels::cuda {

bool head_dims_supported(int64_t head_k, int64_t head_v) {
  return (head_k == 64 || head_k == 128) && head_v > 0 && head_v % 64 == 0 && head_v <= 256;
}

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

Plan make_plan(const Tensor& q, const std::optional<Tensor>& cu_seqlens) {
  Plan plan;
  if (!cu_seqlens) {
    plan.num_seqs = q.size(0);
    plan.seq_len = q.size(1);
    plan.num_chunks = plan.num_seqs * ((plan.seq_len + kChunk - 1) / kChunk);
    return plan;
  }
  const auto off = cu_seqlens->to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* p = off.data_ptr<int64_t>();
  plan.num_seqs = off.numel() - 1;
  std::vector<int32_t> host(2 * (plan.num_seqs + 1));  // cu | chunk offsets | chunk seq
  int64_t chunks = 0;
  for (int64_t n = 0; n <= plan.num_seqs; ++n) {
    host[n] = static_cast<int32_t>(p[n]);
    host[plan.num_seqs + 1 + n] = static_cast<int32_t>(chunks);
    if (n < plan.num_seqs) {
      plan.bos.push_back(p[n]);
      plan.eos.push_back(p[n + 1]);
      const int64_t nc = (p[n + 1] - p[n] + kChunk - 1) / kChunk;
      for (int64_t c = 0; c < nc; ++c) host.push_back(static_cast<int32_t>(n));
      chunks += nc;
    }
  }
  plan.num_chunks = chunks;
  auto dev = torch::from_blob(host.data(), {static_cast<int64_t>(host.size())}, torch::kInt32)
                 .to(q.device());
  plan.cu = dev.narrow(0, 0, plan.num_seqs + 1);
  plan.chunk_offsets = dev.narrow(0, plan.num_seqs + 1, plan.num_seqs + 1);
  plan.chunk_seq = dev.narrow(0, 2 * (plan.num_seqs + 1), chunks);
  return plan;
}

Tensor dense(const Tensor& t) {
  auto c = t.contiguous();
  if (reinterpret_cast<uintptr_t>(c.data_ptr()) % 16 != 0) c = c.clone();
  return c;
}

LinearAttnParams base_params(const Plan& plan, const Tensor& q, const Tensor& v, double scale) {
  LinearAttnParams p;
  p.cu_seqlens = plan.cu.defined() ? plan.cu.data_ptr<int32_t>() : nullptr;
  p.chunk_offsets = plan.cu.defined() ? plan.chunk_offsets.data_ptr<int32_t>() : nullptr;
  p.chunk_seq = plan.cu.defined() ? plan.chunk_seq.data_ptr<int32_t>() : nullptr;
  p.seq_len = static_cast<int>(plan.seq_len);
  p.num_seqs = static_cast<int>(plan.num_seqs);
  p.num_chunks = static_cast<int>(plan.num_chunks);
  p.heads = static_cast<int>(q.size(2));
  p.head_k = static_cast<int>(q.size(3));
  p.head_v = static_cast<int>(v.size(3));
  p.scale = static_cast<float>(scale);
  return p;
}

void* current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

void save_plan(AutogradContext* ctx, const Plan& plan) {
  ctx->saved_data["num_seqs"] = plan.num_seqs;
  ctx->saved_data["num_chunks"] = plan.num_chunks;
  ctx->saved_data["seq_len"] = plan.seq_len;
  if (plan.cu.defined()) {
    ctx->saved_data["cu"] = plan.cu;
    ctx->saved_data["chunk_offsets"] = plan.chunk_offsets;
    ctx->saved_data["chunk_seq"] = plan.chunk_seq;
    ctx->saved_data["bos"] = plan.bos;
    ctx->saved_data["eos"] = plan.eos;
  }
}

Plan load_plan(AutogradContext* ctx) {
  Plan plan;
  plan.num_seqs = ctx->saved_data["num_seqs"].toInt();
  plan.num_chunks = ctx->saved_data["num_chunks"].toInt();
  plan.seq_len = ctx->saved_data["seq_len"].toInt();
  if (ctx->saved_data.count("cu") != 0) {
    plan.cu = ctx->saved_data["cu"].toTensor();
    plan.chunk_offsets = ctx->saved_data["chunk_offsets"].toTensor();
    plan.chunk_seq = ctx->saved_data["chunk_seq"].toTensor();
    plan.bos = ctx->saved_data["bos"].toIntVector();
    plan.eos = ctx->saved_data["eos"].toIntVector();
  }
  return plan;
}

namespace {

template <bool kVec>
void run_forward(const LinearAttnParams& p, void* stream) {
  if (p.head_k == 64) launch_forward<64, kVec>(p, stream);
  else launch_forward<128, kVec>(p, stream);
}
template <bool kVec>
void run_backward(const LinearAttnParams& p, void* stream) {
  if (p.head_k == 64) {
    launch_backward_state<64, kVec>(p, stream);
    if (p.num_chunks > 0) launch_backward_chunks<64, kVec>(p, stream);
  } else {
    launch_backward_state<128, kVec>(p, stream);
    if (p.num_chunks > 0) launch_backward_chunks<128, kVec>(p, stream);
  }
}

}  // namespace

template <bool kVec>
ForwardTensors chunked_forward(LinearAttnParams p, const Plan& plan, const Tensor& g,
                               const Tensor& h0, const torch::TensorOptions& bf16, int64_t B,
                               int64_t T, bool train) {
  const int64_t H = p.heads, K = p.head_k, V = p.head_v, gk = kVec ? K : 1;
  auto fopts = bf16.dtype(torch::kFloat32);
  ForwardTensors f;
  f.gcum = torch::empty({B * T, H, gk}, fopts);
  launch_chunk_cumsum(g.data_ptr<float>(), f.gcum.data_ptr<float>(), static_cast<int>(gk), p,
                      current_stream());
  f.o = torch::empty({B, T, H, V}, bf16);
  f.ht = torch::empty({plan.num_seqs, H, K, V}, fopts);
  // Every chunk's entering state: written by the scan, read by the output
  // kernel, and kept for the backward when training.
  auto hchunk = torch::empty({plan.num_chunks, H, K, V}, bf16);
  p.gcum = f.gcum.data_ptr<float>();
  p.h0 = h0.numel() > 0 ? h0.data_ptr<float>() : nullptr;
  p.o = f.o.data_ptr();
  p.ht = f.ht.data_ptr<float>();
  p.hchunk = hchunk.data_ptr();
  Tensor achunk, qd;  // vector decay workspace (la_tiles_vec.cuh)
  if (kVec) {
    achunk = torch::empty({plan.num_chunks, H, kChunk, kChunk}, bf16);
    qd = torch::empty({B, T, H, K}, bf16);
    p.achunk = achunk.data_ptr();
    p.qd = qd.data_ptr();
  }
  run_forward<kVec>(p, current_stream());
  if (train) f.hchunk = hchunk, f.achunk = achunk;
  return f;
}

template <bool kVec>
BackwardTensors chunked_backward(LinearAttnParams p, const Plan& plan, const Tensor& gcum,
                                 const Tensor& hchunk, const Tensor& achunk,
                                 const Tensor& dout, const Tensor& dht, int64_t B, int64_t T) {
  const int64_t H = p.heads, K = p.head_k, V = p.head_v, gk = kVec ? K : 1;
  auto fopts = gcum.options();
  BackwardTensors r;
  // Scalar decay with K = 128: each 64-column K tile adds its share of the
  // gate gradient into zeros.
  r.dgate = !kVec && K > 64 ? torch::zeros({B * T, H, gk}, fopts)
                            : torch::empty({B * T, H, gk}, fopts);
  auto dhchunk = torch::empty({plan.num_chunks, H, K, V}, hchunk.options());  // bf16
  r.dh0 = torch::empty({plan.num_seqs, H, K, V}, fopts);
  p.gcum = gcum.data_ptr<float>();
  p.hchunk = hchunk.data_ptr();
  p.dout = dout.data_ptr();
  p.dht = dht.defined() ? dht.data_ptr<float>() : nullptr;
  p.dhchunk = dhchunk.data_ptr();
  p.dh0 = r.dh0.data_ptr<float>();
  p.dgate = r.dgate.data_ptr<float>();
  Tensor kd;  // vector decay: the folded keys, recomputed (a q-sized tensor less to keep)
  if (kVec) {
    kd = torch::empty({B, T, H, K}, hchunk.options());
    p.achunk = achunk.data_ptr();
    p.kd = kd.data_ptr();
  }
  run_backward<kVec>(p, current_stream());
  return r;
}

template ForwardTensors chunked_forward<false>(LinearAttnParams, const Plan&, const Tensor&,
                                               const Tensor&, const torch::TensorOptions&,
                                               int64_t, int64_t, bool);
template BackwardTensors chunked_backward<false>(LinearAttnParams, const Plan&, const Tensor&,
                                                 const Tensor&, const Tensor&, const Tensor&,
                                                 const Tensor&, int64_t, int64_t);

namespace {

template <bool kVec>
struct LinearAttnFunction : torch::autograd::Function<LinearAttnFunction<kVec>> {
  // q, k, v bf16 [B,T,H,*]; g fp32; h0 fp32 [N,H,K,V] or empty (zeros).
  static variable_list forward(AutogradContext* ctx, const Tensor& q, const Tensor& k,
                               const Tensor& v, const Tensor& g, const Tensor& h0, double scale,
                               std::shared_ptr<Plan> plan) {
    const c10::cuda::CUDAGuard guard(q.device());
    const bool train = q.requires_grad() || k.requires_grad() || v.requires_grad() ||
                       g.requires_grad() || h0.requires_grad();
    LinearAttnParams p = base_params(*plan, q, v, scale);
    p.q = q.data_ptr();
    p.k = k.data_ptr();
    p.v = v.data_ptr();
    ForwardTensors f =
        chunked_forward<kVec>(p, *plan, g, h0, q.options(), q.size(0), q.size(1), train);
    ctx->save_for_backward({q, k, v, f.gcum, f.hchunk, f.achunk});
    // An unused final state gets no zero-filled gradient (a fill kernel of
    // N H K V floats per call); backward treats an undefined one as zero.
    ctx->set_materialize_grads(false);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["h0_defined"] = h0.numel() > 0;
    ctx->saved_data["g_shape"] = g.sizes().vec();
    save_plan(ctx, *plan);
    return {f.o, f.ht};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &q = saved[0], &k = saved[1], &v = saved[2];
    const c10::cuda::CUDAGuard guard(q.device());
    const Plan plan = load_plan(ctx);
    LinearAttnParams p = base_params(plan, q, v, ctx->saved_data["scale"].toDouble());
    Tensor dout = grads[0].defined() ? dense(grads[0].to(torch::kBFloat16)) : torch::zeros_like(v);
    Tensor dht = grads[1].defined() ? dense(grads[1].to(torch::kFloat32)) : Tensor();
    auto dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    p.q = q.data_ptr();
    p.k = k.data_ptr();
    p.v = v.data_ptr();
    p.dq = dq.data_ptr();
    p.dk = dk.data_ptr();
    p.dv = dv.data_ptr();
    // saved[5]: vector decay, the forward's intra-chunk scores.
    BackwardTensors r = chunked_backward<kVec>(p, plan, saved[3], saved[4], saved[5], dout, dht,
                                               q.size(0), q.size(1));
    // dgate is final: backward_chunks finishes the gate gradient per chunk.
    auto dg = r.dgate.view(ctx->saved_data["g_shape"].toIntVector());
    Tensor dh0 = ctx->saved_data["h0_defined"].toBool() ? r.dh0 : Tensor();
    return {dq, dk, dv, dg, dh0, Tensor(), Tensor()};
  }
};

}  // namespace

LinearAttnResult chunked(bool vector_gate, const Tensor& q, const Tensor& k, const Tensor& v,
                         const Tensor& g, const Tensor& initial_state,
                         const LinearAttnOptions& opt) {
  TORCH_CHECK(head_dims_supported(q.size(3), v.size(3)),
              "linear attention CUDA: unsupported head dims K = ", q.size(3), ", V = ", v.size(3));
  const double scale = detail::resolve_scale(opt.scale, q.size(3));
  auto plan = std::make_shared<Plan>(make_plan(q, opt.cu_seqlens));
  auto qb = dense(q.to(torch::kBFloat16)), kb = dense(k.to(torch::kBFloat16));
  auto vb = dense(v.to(torch::kBFloat16)), gf = dense(g.to(torch::kFloat32));
  // autograd::Function inputs must be defined: "no initial state" is an empty tensor.
  auto h0 = initial_state.defined() ? dense(initial_state.to(torch::kFloat32))
                                    : torch::empty({0}, q.options().dtype(torch::kFloat32));
  variable_list out = vector_gate
                          ? LinearAttnFunction<true>::apply(qb, kb, vb, gf, h0, scale, plan)
                          : LinearAttnFunction<false>::apply(qb, kb, vb, gf, h0, scale, plan);
  LinearAttnResult r;
  r.o = out[0].to(q.scalar_type());
  if (opt.output_final_state) r.final_state = out[1];
  return r;
}

}  // namespace scalelab::kernels::cuda
