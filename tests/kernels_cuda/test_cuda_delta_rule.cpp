// Device tests of the gated delta rule's CUDA kernels (kernels/delta_rule/
// cuda.h) against the fp64 recurrent reference (reference.cpp) run on the
// same bf16-rounded inputs: output, final state and every gradient (dq, dk,
// dv, dg, dbeta, dh0) within a relative RMS of kTol, over T = 1, 63, 64, 65,
// 1000, 4096, K = V in {64, 128}, weak and strong gates; K != V, packed
// sequences, bitwise run-to-run determinism and the op-level dispatch. The
// GPU tests skip themselves without a device (CI); the dispatch-table and
// argument tests run everywhere.
//
// With SCALELAB_GDN_DUMP=DIR set, each table case also writes its inputs,
// the reference's outputs and gradients and our errors under DIR/<case>/
// (raw fp32, meta.json), so bench/kernels/gdn_fla_errors.py can measure fla's
// chunk_gated_delta_rule on the very same inputs against the same reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/delta_rule/cuda.h"
#include "kernels/delta_rule/op.h"

namespace sk = scalelab::kernels;

namespace {

// bf16 operands (q, k, v, T, W, u, states per chunk) with fp32 accumulation:
// fla's chunk_gated_delta_rule lands at 1e-3..8e-3 on these inputs.
constexpr double kTol = 1.5e-2;

struct Shape {
  int64_t B, T, H, K, V;
  bool h0;
  double gate;  // g = -gate * sigmoid(2 noise): larger forgets faster
};

std::string name(const Shape& s) {
  return "B" + std::to_string(s.B) + "_T" + std::to_string(s.T) + "_H" + std::to_string(s.H) +
         "_K" + std::to_string(s.K) + "_V" + std::to_string(s.V) + (s.h0 ? "_h0" : "") + "_gate" +
         std::to_string(int(s.gate * 100));
}
void PrintTo(const Shape& s, std::ostream* os) { *os << name(s); }

struct Inputs {
  torch::Tensor q, k, v, g, beta, h0;  // q, k, v bf16 (q, k unit rows); g, beta, h0 fp32
};

torch::Tensor unit_rows(const torch::Tensor& x) {
  return x / x.norm(2, -1, true).clamp_min(1e-6);
}

Inputs make_inputs(const Shape& s, int64_t n_states, uint64_t seed) {
  torch::manual_seed(seed);
  auto f32 = torch::dtype(torch::kFloat32).device(torch::kCUDA);
  Inputs in;
  in.q = unit_rows(torch::randn({s.B, s.T, s.H, s.K}, f32)).to(torch::kBFloat16);
  in.k = unit_rows(torch::randn({s.B, s.T, s.H, s.K}, f32)).to(torch::kBFloat16);
  in.v = torch::randn({s.B, s.T, s.H, s.V}, f32).to(torch::kBFloat16);
  in.g = -s.gate * torch::sigmoid(torch::randn({s.B, s.T, s.H}, f32) * 2);
  in.beta = torch::sigmoid(torch::randn({s.B, s.T, s.H}, f32));
  if (s.h0) in.h0 = torch::randn({n_states, s.H, s.K, s.V}, f32) * 0.5;
  return in;
}

double rel_rms(const torch::Tensor& a, const torch::Tensor& ref) {
  auto r = ref.to(torch::kFloat64);
  const double den = r.norm().item<double>();
  const double num = (a.to(torch::kFloat64) - r).norm().item<double>();
  return den == 0 ? num : num / den;
}

const char* kNames[] = {"o", "final_state", "dq", "dk", "dv", "dg", "dbeta", "dh0"};

struct Run {
  std::vector<torch::Tensor> vals;  // o, final state, dq, dk, dv, dg, dbeta, (dh0)
  torch::Tensor wo, ws;             // the loss weights
};

using Fn = std::function<sk::LinearAttnResult(const std::vector<torch::Tensor>&)>;

// Runs FN on leaf copies of IN (q, k, v in DTYPE; g, beta, h0 in GDTYPE),
// back-propagates one fixed random projection of (o, final state).
Run run(const Inputs& in, torch::ScalarType dtype, torch::ScalarType gdtype, const Fn& fn,
        uint64_t seed) {
  std::vector<torch::Tensor> leaves = {in.q.to(dtype), in.k.to(dtype), in.v.to(dtype),
                                       in.g.to(gdtype), in.beta.to(gdtype)};
  if (in.h0.defined()) leaves.push_back(in.h0.to(gdtype));
  for (auto& t : leaves) t = t.detach().clone().requires_grad_(true);
  auto r = fn(leaves);
  torch::manual_seed(seed + 7);
  Run out;
  out.wo = torch::randn(r.o.sizes(), r.o.options().dtype(torch::kFloat32));
  out.ws = torch::randn(r.final_state.sizes(), r.final_state.options().dtype(torch::kFloat32));
  auto loss = (r.o.to(torch::kFloat64) * out.wo.to(torch::kFloat64)).sum() +
              (r.final_state.to(torch::kFloat64) * out.ws.to(torch::kFloat64)).sum();
  auto grads = torch::autograd::grad({loss}, leaves);
  out.vals = {r.o.detach(), r.final_state.detach()};
  for (auto& g : grads) out.vals.push_back(g.detach());
  return out;
}

Fn kernel(const sk::LinearAttnOptions& opt) {
  return [opt](const std::vector<torch::Tensor>& x) {
    return sk::cuda_delta_rule_chunked(x[0], x[1], x[2], x[3], x[4],
                                       x.size() > 5 ? x[5] : torch::Tensor(), opt);
  };
}
Fn reference(const sk::LinearAttnOptions& opt) {
  return [opt](const std::vector<torch::Tensor>& x) {
    return sk::delta_rule_recurrent(x[0], x[1], x[2], x[3], x[4],
                                    x.size() > 5 ? x[5] : torch::Tensor(), opt);
  };
}

std::vector<double> expect_close(const Run& got, const Run& ref, const std::string& what) {
  std::vector<double> errs;
  EXPECT_EQ(got.vals.size(), ref.vals.size());
  std::string line;
  for (size_t i = 0; i < got.vals.size() && i < ref.vals.size(); ++i) {
    EXPECT_TRUE(torch::isfinite(got.vals[i]).all().item<bool>()) << what << ": " << kNames[i];
    const double e = rel_rms(got.vals[i], ref.vals[i]);
    EXPECT_LT(e, kTol) << what << ": " << kNames[i];
    errs.push_back(e);
    char buf[64];
    std::snprintf(buf, sizeof buf, " %s %.2e", kNames[i], e);
    line += buf;
  }
  std::printf("%-34s%s\n", what.c_str(), line.c_str());
  return errs;
}

void write_raw(const std::filesystem::path& path, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * sizeof(float));
}

// The case's inputs, loss weights, reference values and our errors for
// gdn_fla_errors.py.
void dump_case(const Shape& s, const Inputs& in, const Run& ref, const std::vector<double>& errs) {
  const char* dir = std::getenv("SCALELAB_GDN_DUMP");
  if (dir == nullptr || s.K != s.V || s.H != 16) return;
  const auto d = std::filesystem::path(dir) / name(s);
  std::filesystem::create_directories(d);
  write_raw(d / "q.f32", in.q);
  write_raw(d / "k.f32", in.k);
  write_raw(d / "v.f32", in.v);
  write_raw(d / "g.f32", in.g);
  write_raw(d / "beta.f32", in.beta);
  if (in.h0.defined()) write_raw(d / "h0.f32", in.h0);
  write_raw(d / "wo.f32", ref.wo);
  write_raw(d / "ws.f32", ref.ws);
  for (size_t i = 0; i < ref.vals.size(); ++i)
    write_raw(d / (std::string("ref_") + kNames[i] + ".f32"), ref.vals[i]);
  std::ofstream m(d / "meta.json");
  m << "{\"B\": " << s.B << ", \"T\": " << s.T << ", \"H\": " << s.H << ", \"K\": " << s.K
    << ", \"V\": " << s.V << ", \"h0\": " << (s.h0 ? "true" : "false") << ", \"gate\": " << s.gate
    << ", \"ours\": {";
  for (size_t i = 0; i < errs.size(); ++i)
    m << (i ? ", " : "") << "\"" << kNames[i] << "\": " << errs[i];
  m << "}}\n";
}

bool have_gpu() { return torch::cuda::is_available(); }

class CudaDeltaRule : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaDeltaRule, MatchesFp64ReferenceAndIsDeterministic) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const Shape s = GetParam();
  const auto in = make_inputs(s, s.B, 4321 + s.T);
  const sk::LinearAttnOptions opt;
  const auto ref = run(in, torch::kFloat64, torch::kFloat64, reference(opt), 11);
  const auto got = run(in, torch::kBFloat16, torch::kFloat32, kernel(opt), 11);
  const auto errs = expect_close(got, ref, name(s));
  dump_case(s, in, ref, errs);
  const auto again = run(in, torch::kBFloat16, torch::kFloat32, kernel(opt), 11);
  for (size_t i = 0; i < got.vals.size(); ++i)
    EXPECT_TRUE(torch::equal(got.vals[i], again.vals[i]))
        << name(s) << ": " << kNames[i] << " differs run to run";
}

std::vector<Shape> table() {
  std::vector<Shape> shapes;
  // H = 16 as in bench_kernels, so that fla (whose autotuning is keyed on
  // H, K, V) tunes once for both the error comparison and the timings.
  for (int64_t d : {64, 128})
    for (int64_t T : {1, 63, 64, 65, 1000, 4096})
      shapes.push_back({1, T, 16, d, d, T % 2 == 1, 0.1});
  // Strong gates (exp(b) underflows within a chunk if folded naively) and
  // the mixer's V = 2K.
  for (int64_t d : {64, 128}) {
    shapes.push_back({2, 65, 16, d, d, true, 8.0});
    shapes.push_back({1, 1000, 16, d, d, true, 8.0});
  }
  shapes.push_back({1, 300, 2, 128, 256, true, 0.5});
  shapes.push_back({1, 300, 2, 64, 128, false, 0.5});
  return shapes;
}

INSTANTIATE_TEST_SUITE_P(Table, CudaDeltaRule, ::testing::ValuesIn(table()),
                         [](const auto& info) { return name(info.param); });

// Packed sequences (one empty, one a single row) against the reference run
// sequence by sequence.
TEST(CudaDeltaRuleVarlen, PackedSequencesMatchReference) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const std::vector<int64_t> offsets = {0, 100, 100, 101, 1000, 1065, 1300};
  for (int64_t d : {64, 128}) {
    const Shape s{1, offsets.back(), 2, d, d, true, 0.5};
    const auto in = make_inputs(s, static_cast<int64_t>(offsets.size()) - 1, 7);
    sk::LinearAttnOptions opt;
    opt.cu_seqlens = torch::tensor(offsets, torch::kInt32).to(torch::kCUDA);
    const auto ref = run(in, torch::kFloat64, torch::kFloat64, reference(opt), 5);
    const auto got = run(in, torch::kBFloat16, torch::kFloat32, kernel(opt), 5);
    expect_close(got, ref, "varlen_K" + std::to_string(d));
  }
}

// The public op routes CUDA tensors to the kernels (same bits as calling
// them directly) and runs the LibTorch form for head dims they do not cover.
TEST(CudaDeltaRuleDispatch, OpUsesKernelsOnGpuAndFallsBackForOddHeadDims) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const Shape s{2, 130, 2, 64, 64, true, 0.5};
  const auto in = make_inputs(s, s.B, 3);
  const sk::LinearAttnOptions opt;
  auto a = sk::delta_rule_chunked(in.q, in.k, in.v, in.g, in.beta, in.h0, opt);
  auto b = sk::cuda_delta_rule_chunked(in.q, in.k, in.v, in.g, in.beta, in.h0, opt);
  EXPECT_TRUE(torch::equal(a.o, b.o));
  EXPECT_TRUE(torch::equal(a.final_state, b.final_state));
  EXPECT_EQ(a.o.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(a.final_state.scalar_type(), torch::kFloat32);

  const Shape odd{1, 70, 2, 32, 48, false, 0.5};
  const auto in2 = make_inputs(odd, 1, 4);
  const auto got = run(in2, torch::kFloat32, torch::kFloat32, kernel(opt), 1);
  const auto ref = run(in2, torch::kFloat64, torch::kFloat64, reference(opt), 1);
  for (size_t i = 0; i < got.vals.size(); ++i)
    EXPECT_LT(rel_rms(got.vals[i], ref.vals[i]), 1e-4) << "fallback: " << kNames[i];
}

TEST(CudaDeltaRuleErrors, RejectsMismatchedShapesAndDevices) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const Shape s{1, 16, 2, 64, 64, false, 0.5};
  const auto in = make_inputs(s, 1, 1);
  EXPECT_THROW(sk::cuda_delta_rule_chunked(in.q, in.k, in.v, in.g.cpu(), in.beta, {}, {}), c10::Error);
  EXPECT_THROW(sk::cuda_delta_rule_chunked(in.q, in.k.narrow(1, 0, 8), in.v, in.g, in.beta, {}, {}),
               c10::Error);
  EXPECT_THROW(sk::cuda_delta_rule_chunked(in.q, in.k, in.v, in.g, in.beta.narrow(1, 0, 8), {}, {}),
               c10::Error);
}

// Runs without a GPU: which head dims the kernels cover, and that CPU
// tensors are refused by name rather than reaching a kernel.
TEST(CudaDeltaRuleHost, CoverageAndCpuTensorsRefused) {
  EXPECT_TRUE(sk::cuda_delta_rule_supported(64, 64));
  EXPECT_TRUE(sk::cuda_delta_rule_supported(128, 128));
  EXPECT_TRUE(sk::cuda_delta_rule_supported(128, 256));
  EXPECT_FALSE(sk::cuda_delta_rule_supported(32, 64));
  EXPECT_FALSE(sk::cuda_delta_rule_supported(64, 96));
  EXPECT_FALSE(sk::cuda_delta_rule_supported(256, 256));
  auto x = torch::randn({1, 4, 2, 64});
  auto g = -torch::rand({1, 4, 2}), beta = torch::rand({1, 4, 2});
  try {
    sk::cuda_delta_rule_chunked(x, x, x, g, beta, {}, {});
    ADD_FAILURE() << "CPU tensors were accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("must be a CUDA tensor"),
              std::string::npos)
        << e.what_without_backtrace();
  }
  // The public op on CPU stays on the LibTorch form.
  auto r = sk::delta_rule_chunked(x, x, x, g, beta, {}, {});
  EXPECT_EQ(r.o.device().type(), torch::kCPU);
}

}  // namespace
