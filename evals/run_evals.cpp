#include "evals/run_evals.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "data/dataset.h"
#include "data/manifest.h"
#include "data/source.h"
#include "evals/generate.h"
#include "evals/mqar.h"
#include "evals/niah.h"
#include "evals/position_loss.h"
#include "models/decoder.h"

namespace scalelab::evals {

namespace {

torch::Device pick_device(const std::string& want) {
  if (want == "auto") return torch::cuda::is_available() ? torch::Device("cuda:0") : torch::kCPU;
  torch::Device d(want);
  if (d.is_cuda() && !torch::cuda::is_available())
    throw std::runtime_error("eval: device '" + want + "' asked for, but no CUDA GPU is visible");
  return d;
}

models::Decoder load_model(const spec::RunSpec& s, const std::string& path, torch::Device dev) {
  if (!std::filesystem::exists(path))
    throw std::invalid_argument(path + ": no trained weights (a finished run writes model.pt)");
  models::Decoder m(s.model);
  torch::load(m, path);
  m->to(dev);
  m->eval();
  return m;
}

// The tokenizer of the manifest beside the data's token files (text sources
// are cached as byte-level shards with one; prepared shards have theirs).
std::unique_ptr<data::Tokenizer> tokenizer_for(const std::string& source) {
  const data::SourceLayout L = data::resolve_source(source);
  if (!L.files.empty()) {
    const std::string dir = std::filesystem::path(L.files[0].path).parent_path().string();
    if (std::filesystem::exists(dir + "/manifest.json"))
      return data::load_tokenizer(data::read_manifest(dir).tokenizer, dir);
  }
  throw std::invalid_argument("sniah: data '" + source + "' (" + L.origin +
                              ") has no tokenizer (no manifest.json beside its tokens), so no "
                              "prompt can be written for it");
}

void say(const EvalOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

std::vector<db::EvalRow> run_mqar(const db::Run& run, const spec::RunSpec& s, models::Decoder m,
                                  torch::Device dev, const EvalOptions& o) {
  const MqarShape shape{s.model.vocab, s.model.seq_len, s.mqar_pairs};
  const NextTokens predict = next_tokens_of(m, dev);
  RecallCount c;
  const int64_t n = o.mqar_samples;
  for (int64_t i = 0; i < n; i += o.batch) {
    const int64_t b = std::min(o.batch, n - i);
    auto seqs = torch::empty({b, shape.seq_len + 1}, torch::kInt64);
    mqar_validation_into(shape, i, b, seqs.data_ptr<int64_t>());
    auto pred = predict(seqs.narrow(1, 0, shape.seq_len)).contiguous();
    c += mqar_score(shape, pred.data_ptr<int64_t>(), seqs.data_ptr<int64_t>(), b);
  }
  say(o, fmt::format("mqar {}: accuracy {:.4f} ({} of {} answers)", shape.label(), c.accuracy(),
                     c.correct, c.total));
  db::EvalRow r;
  r.run_id = run.id;
  r.eval = "mqar";
  r.variant = fmt::format("pairs={}", shape.pairs);
  r.context = shape.seq_len;
  r.value = c.accuracy();
  r.n = c.total;
  r.detail = nlohmann::json{{"sequences", n}, {"vocab", shape.vocab}, {"scoring", "argmax"}}.dump();
  return {r};
}

// Held-out text for a haystack: consecutive validation windows of the run's
// seq_len, from a window that depends on the sample.
std::function<std::vector<uint32_t>(uint64_t, int64_t)> held_out_text(const spec::RunSpec& s) {
  auto ds = std::make_shared<data::Dataset>(data::Dataset::open(s.data, s.model.vocab, s.model.seq_len));
  return [ds](uint64_t sample, int64_t n) {
    const int64_t t = ds->seq_len(), w = ds->num_windows(data::Split::Validation);
    std::vector<uint32_t> out;
    std::vector<int64_t> buf(static_cast<size_t>(t + 1));
    for (int64_t k = 0; static_cast<int64_t>(out.size()) < n && k < w; ++k) {
      ds->validation_windows_into((static_cast<int64_t>(sample) * 7 + k) % w, 1, buf.data());
      for (int64_t i = 0; i < t; ++i) out.push_back(static_cast<uint32_t>(buf[static_cast<size_t>(i)]));
    }
    out.resize(std::min<size_t>(out.size(), static_cast<size_t>(n)));
    return out;
  };
}

// The contexts asked for, or by default those of T/4, T/2, T, 2T that leave
// a haystack at least as long as the needle and question (NEED tokens).
std::vector<int64_t> contexts_for(const spec::RunSpec& s, const EvalOptions& o, int64_t need) {
  if (!o.contexts.empty()) return o.contexts;
  const int64_t t = s.model.seq_len;
  std::vector<int64_t> out;
  for (int64_t c : {t / 4, t / 2, t, 2 * t})
    if (c >= 2 * need) out.push_back(c);
  return out;
}

std::vector<db::EvalRow> run_sniah(const db::Run& run, const spec::RunSpec& s, models::Decoder m,
                                   torch::Device dev, const EvalOptions& o) {
  const auto tok = tokenizer_for(s.data);
  NiahSource src{tok.get(), nullptr};
  for (const std::string& v : o.variants)
    if (parse_niah_variant(v).haystack == Haystack::Text) src.text = held_out_text(s);
  const Greedy greedy = greedy_of(m, dev);
  std::vector<db::EvalRow> rows;
  for (const std::string& vname : o.variants) {
    const NiahVariant v = parse_niah_variant(vname);
    for (int64_t ctx : contexts_for(s, o, niah_overhead(src, v))) {
      // Every (depth, sample) prompt of this context has CTX tokens: one batch shape.
      std::vector<NiahPrompt> prompts;
      for (double d : o.depths)
        for (int64_t k = 0; k < o.samples; ++k)
          prompts.push_back(make_niah_prompt(src, v, ctx, d, static_cast<uint64_t>(k)));
      std::vector<std::vector<uint32_t>> gen;
      for (size_t i = 0; i < prompts.size(); i += static_cast<size_t>(o.batch)) {
        const size_t b = std::min(prompts.size() - i, static_cast<size_t>(o.batch));
        auto x = torch::empty({static_cast<int64_t>(b), ctx}, torch::kInt64);
        size_t longest = 0;
        for (size_t j = 0; j < b; ++j) {
          std::copy(prompts[i + j].prompt.begin(), prompts[i + j].prompt.end(),
                    x[static_cast<int64_t>(j)].data_ptr<int64_t>());
          longest = std::max(longest, prompts[i + j].answer.size());
        }
        auto y = greedy(x, static_cast<int64_t>(longest)).contiguous();
        for (size_t j = 0; j < b; ++j) {
          const int64_t* p = y[static_cast<int64_t>(j)].data_ptr<int64_t>();
          gen.emplace_back(p, p + longest);
        }
      }
      RecallCount all;
      for (size_t di = 0; di < o.depths.size(); ++di) {
        const auto first = prompts.begin() + static_cast<std::ptrdiff_t>(di * o.samples);
        const std::vector<NiahPrompt> cell(first, first + o.samples);
        const auto g0 = gen.begin() + static_cast<std::ptrdiff_t>(di * o.samples);
        const RecallCount c = niah_score(cell, std::vector<std::vector<uint32_t>>(g0, g0 + o.samples));
        all += c;
        db::EvalRow r;
        r.run_id = run.id;
        r.eval = "sniah";
        r.variant = vname;
        r.context = ctx;
        r.depth = o.depths[di];
        r.value = c.accuracy();
        r.n = c.total;
        r.detail = nlohmann::json{{"train_seq_len", s.model.seq_len},
                                  {"beyond_training", ctx > s.model.seq_len},
                                  {"decoding", "greedy"}}
                       .dump();
        rows.push_back(std::move(r));
      }
      say(o, fmt::format("sniah {} context {}{}: recall {:.3f} ({} of {} prompts)", vname, ctx,
                         ctx > s.model.seq_len ? " (beyond training)" : "", all.accuracy(),
                         all.correct, all.total));
    }
  }
  return rows;
}

std::vector<db::EvalRow> run_position(const db::Run& run, const spec::RunSpec& s, models::Decoder m,
                                      torch::Device dev, const EvalOptions& o) {
  const data::Dataset ds = data::Dataset::open(s.data, s.model.vocab, s.model.seq_len);
  const int64_t t = s.model.seq_len;
  const int64_t want = o.position_windows > 0 ? o.position_windows
                                              : std::max<int64_t>(1, s.eval_tokens / t);
  const int64_t n = std::min(want, ds.num_windows(data::Split::Validation));
  auto windows = torch::empty({n, t + 1}, torch::kInt64);
  ds.validation_windows_into(0, n, windows.data_ptr<int64_t>());
  auto sums = token_loss_sums(m, dev, windows, o.batch).contiguous();
  const double* p = sums.data_ptr<double>();
  std::vector<db::EvalRow> rows;
  for (const PositionBucket& b : position_buckets(std::vector<double>(p, p + t), n)) {
    db::EvalRow r;
    r.run_id = run.id;
    r.eval = "position_loss";
    r.context = t;
    r.position = b.last;
    r.value = b.loss;
    r.n = b.tokens;
    r.detail = nlohmann::json{{"first", b.first}, {"windows", n}}.dump();
    rows.push_back(std::move(r));
  }
  say(o, fmt::format("position loss over {} windows: {:.4f} at position 1, {:.4f} at {}..{}", n,
                     rows.front().value, rows.back().value,
                     nlohmann::json::parse(rows.back().detail)["first"].get<int64_t>(), t));
  return rows;
}

}  // namespace

std::vector<std::string> tasks_for(const spec::RunSpec& run, const EvalOptions& opt) {
  const std::vector<std::string> fits =
      run.is_mqar() ? std::vector<std::string>{"mqar"} : std::vector<std::string>{"sniah", "position"};
  if (opt.tasks.empty()) return fits;
  std::vector<std::string> out;
  for (const std::string& t : fits)
    if (std::find(opt.tasks.begin(), opt.tasks.end(), t) != opt.tasks.end()) out.push_back(t);
  return out;
}

void check_eval_options(const spec::RunSpec& run, const EvalOptions& o) {
  for (const std::string& t : o.tasks)
    if (t != "mqar" && t != "sniah" && t != "position")
      throw std::invalid_argument("--tasks: unknown task '" + t + "' (known: mqar, sniah, position)");
  if (o.samples < 1) throw std::invalid_argument("--samples must be >= 1");
  if (o.mqar_samples < 1) throw std::invalid_argument("--mqar-samples must be >= 1");
  if (o.batch < 1) throw std::invalid_argument("--batch must be >= 1");
  for (double d : o.depths)
    if (!(d >= 0 && d <= 1))
      throw std::invalid_argument(fmt::format("--depths: {} is outside [0, 1]", d));
  for (const std::string& v : o.variants) parse_niah_variant(v);
  const std::vector<std::string> tasks = tasks_for(run, o);
  if (std::find(tasks.begin(), tasks.end(), "sniah") == tasks.end()) return;
  const auto tok = tokenizer_for(run.data);
  const NiahSource src{tok.get(), nullptr};
  for (const std::string& v : o.variants) {
    const int64_t need = niah_overhead(src, parse_niah_variant(v)) + 1;
    if (contexts_for(run, o, need - 1).empty())
      throw std::invalid_argument(fmt::format(
          "seq_len {} is too short for a {} needle by default ({} tokens of needle and question, "
          "a context of at least {}); give --contexts",
          run.model.seq_len, v, need - 1, 2 * (need - 1)));
    for (int64_t ctx : contexts_for(run, o, need - 1))
      if (ctx < need)
        throw std::invalid_argument(fmt::format(
            "--contexts: {} tokens leave no room for a haystack: {} needs at least {} tokens "
            "(the needle and the question take {})",
            ctx, v, need, need - 1));
  }
}

std::vector<std::pair<std::string, std::vector<db::EvalRow>>> evaluate_run(
    const db::Run& run, const std::string& model_path, const EvalOptions& opt) {
  const spec::RunSpec s = spec::run_spec_from_json(nlohmann::json::parse(run.spec_json));
  check_eval_options(s, opt);
  const torch::Device dev = pick_device(opt.device);
  models::Decoder m = load_model(s, model_path, dev);
  std::vector<std::pair<std::string, std::vector<db::EvalRow>>> out;
  for (const std::string& t : tasks_for(s, opt)) {
    if (t == "mqar") out.emplace_back("mqar", run_mqar(run, s, m, dev, opt));
    if (t == "sniah") out.emplace_back("sniah", run_sniah(run, s, m, dev, opt));
    if (t == "position") out.emplace_back("position_loss", run_position(run, s, m, dev, opt));
  }
  return out;
}

}  // namespace scalelab::evals
