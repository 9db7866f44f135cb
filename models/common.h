// Building blocks shared by every mixer and the decoder: RMSNorm, the SwiGLU
// channel mixer, and seeded weight initialisation.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace scalelab::models {

// Seeded initialisation, independent of device and of the global RNG: values
// are drawn on the CPU from one generator, then copied into the parameter,
// so a seed gives the same model on a laptop and on a GPU.
class Init {
 public:
  Init(uint64_t seed, int n_layers);
  void normal(torch::Tensor& p, double std);
  void uniform(torch::Tensor& p, double lo, double hi);
  void fill(torch::Tensor& p, double value);
  void copy(torch::Tensor& p, const torch::Tensor& value);  // value on CPU, any dtype
  // N(0, 0.02), the GPT-2 / Llama default for every weight matrix.
  void weight(torch::Tensor& p) { normal(p, 0.02); }
  // Projections that write into the residual stream: 0.02 / sqrt(2 L), so the
  // residual variance stays O(1) with depth (GPT-2, Radford et al. 2019).
  void residual_weight(torch::Tensor& p);
  at::Generator& generator() { return gen_; }

 private:
  at::Generator gen_;
  int n_layers_;
};

// y = x / rms(x) * weight over the last dim (Zhang & Sennrich 2019), fp32
// statistics (kernels/rms_norm). Returns x's dtype, or the autocast dtype on a
// GPU under autocast (its consumers are low-precision matmuls).
class RMSNormImpl : public torch::nn::Module {
 public:
  explicit RMSNormImpl(int64_t dim, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);
  // {h, norm(h)} with h = x + a: the residual add fused into the norm after it.
  std::pair<torch::Tensor, torch::Tensor> add_forward(const torch::Tensor& x, const torch::Tensor& a);
  void init_weights(Init& init) { init.fill(weight, 1.0); }
  // The dtype forward() writes for input X (see above).
  at::ScalarType out_dtype(const torch::Tensor& x) const;
  double eps() const { return eps_; }
  torch::Tensor weight;  // [dim]

 private:
  int64_t dim_;
  double eps_;
};
TORCH_MODULE(RMSNorm);

// Unlike torch::nn::Linear and torch::nn::Embedding, these two leave their
// weight uninitialised (a parameter named "weight"): every module's
// init_weights draws it, and LibTorch's draw at construction was thrown away
// (40% of building and initialising a 110M model on the CPU, part of every
// run's start-up).
class WeightOnly : public torch::nn::Module {
 public:
  torch::Tensor weight;

 protected:
  explicit WeightOnly(at::IntArrayRef shape);
};

// A bias-free linear layer [in -> out]: weight [out, in], y = x W^T (at::linear,
// so autocast applies).
class LinearImpl : public WeightOnly {
 public:
  LinearImpl(int64_t in, int64_t out) : WeightOnly({out, in}) {}
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(Linear);
inline Linear linear(int64_t in, int64_t out) { return Linear(in, out); }

// Token embedding: weight [vocab, d], forward(ids) = weight[ids].
class EmbeddingImpl : public WeightOnly {
 public:
  EmbeddingImpl(int64_t vocab, int64_t d) : WeightOnly({vocab, d}) {}
  torch::Tensor forward(const torch::Tensor& ids);
};
TORCH_MODULE(Embedding);

// SwiGLU (Shazeer 2020, as in Llama): W2 (silu(W1 x) * W3 x), no biases. W1
// and W3 are one [2 ffn, d] matrix (w13: W1's rows, then W3's), one matmul.
class SwiGLUImpl : public torch::nn::Module {
 public:
  SwiGLUImpl(int64_t d_model, int64_t d_ffn);
  torch::Tensor forward(const torch::Tensor& x);  // [..., d_model] -> [..., d_model]
  void init_weights(Init& init);

 private:
  int64_t d_ffn_;
  Linear w13_{nullptr}, w2_{nullptr};
};
TORCH_MODULE(SwiGLU);

// SiLU(causal depthwise conv1d over time), the short convolution of Mamba2
// and of fla's ShortConvolution: x [B, T, C], weight [C, 1, W], bias [C] or
// undefined -> [B, T, C]. BUFFER (generation) holds the previous W - 1
// inputs [B, C, W - 1] (undefined at the start: zeros) and is updated;
// nullptr: zero left padding.
// Splits x along its last dim into views of SIZES. Autograd's backward of
// several narrows of one tensor zero-fills a full-size gradient per part and
// adds them up (three fills and two adds for Mamba2's in_proj output); this
// one writes the whole gradient with a single cat.
std::vector<torch::Tensor> split_last(const torch::Tensor& x, const std::vector<int64_t>& sizes);

torch::Tensor causal_conv_silu(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, torch::Tensor* buffer);

}  // namespace scalelab::models
