// scalelab data prepare | verify | info: training data as token shards.
//
//   data prepare INPUT... --out DIR [--tokenizer byte|bpe|unigram|FILE.model]
//                [--train-tokenizer VOCAB] [--val-fraction 0.005] [--shard-tokens 100M]
//                [--text-docs file|paragraph|line] [--threads N] [--quiet]
//   data verify DIR    every shard's checksum and largest token against manifest.json
//   data info SOURCE   what a sheet's `data` cell resolves to
//
// Bad input (a missing file, bad JSON line, NUL byte, empty split, bad option)
// exits 2 with a message naming the file, and leaves nothing at --out.
#include <fmt/format.h>
#include <sys/resource.h>

#include <iostream>
#include <memory>

#include "cli/command.h"
#include "data/format.h"
#include "data/prepare.h"
#include "data/progress.h"
#include "data/source.h"
#include "sweep/cell.h"

namespace scalelab::cli {
namespace {

struct PrepareArgs {
  data::PrepareOptions opt;
  std::string train_vocab, shard_tokens = "100M", text_docs = "file";
  bool quiet = false;
};

int64_t count_option(const std::string& flag, const std::string& v) {
  try {
    return sweep::parse_int(v);
  } catch (const sweep::CellError& e) {
    throw InputError(flag + " " + v + ": " + e.what());
  }
}

// Bad data is bad input: exit code 2, the message naming the file.
template <typename F>
auto input_error(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const data::DataError& e) {
    throw InputError(e.what());
  }
}

double peak_rss() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024;
}

void run_prepare(PrepareArgs& a) {
  data::PrepareOptions& o = a.opt;
  if (!a.train_vocab.empty()) o.train_vocab = count_option("--train-tokenizer", a.train_vocab);
  o.shard_tokens = count_option("--shard-tokens", a.shard_tokens);
  o.progress = !a.quiet;
  const data::PrepareResult r = input_error([&] {
    o.text_docs = data::parse_text_docs(a.text_docs);
    return data::prepare(o);
  });
  const data::Manifest& m = r.manifest;
  std::cout << fmt::format(
      "{}: {} train tokens in {} documents, {} validation tokens in {} documents; "
      "{} shards; tokenizer {}{} (vocab {}); {} of text in {:.1f} s ({}/s), peak memory {}\n",
      o.out, data::human_count(m.tokens(data::Split::Train)), m.documents(data::Split::Train),
      data::human_count(m.tokens(data::Split::Validation)), m.documents(data::Split::Validation),
      m.shards.size(), m.tokenizer.type, m.tokenizer.model.empty() ? "" : " " + m.tokenizer.model,
      m.tokenizer.vocab, data::human_bytes(m.input_bytes), r.seconds,
      data::human_bytes(m.input_bytes / std::max(1e-9, r.seconds)), data::human_bytes(peak_rss()));
  if (r.skipped_files > 0)
    std::cout << fmt::format("note: skipped {} files in the input folders that are not .txt, .text, "
                             ".md or .jsonl\n", r.skipped_files);
  std::cout << fmt::format("use it in a sheet as data = shards:{}\n", o.out);
}

// Re-reads every shard: header, checksum and largest token against the manifest.
int run_verify(const std::string& dir) {
  const data::Manifest m = input_error([&] { return data::read_manifest(dir); });
  int bad = 0;
  for (const data::ShardEntry& e : m.shards) {
    const std::string path = dir + "/" + e.file;
    try {
      const data::ShardHeader h = data::read_shard_header(path);
      if (h.tokens != e.tokens) throw data::DataError(path + ": token count differs from the manifest");
      if (data::shard_checksum(path, h) != e.xxh3)
        throw data::DataError(path + ": checksum differs from the manifest (the file changed)");
      const int64_t top = data::scan_max_token(path, data::kHeaderBytes, h.tokens, h.width);
      if (top != e.max_token || top >= m.tokenizer.vocab)
        throw data::DataError(fmt::format("{}: largest token {} (manifest {}, vocab {})", path, top,
                                          e.max_token, m.tokenizer.vocab));
    } catch (const data::DataError& err) {
      std::cerr << "scalelab: error: " << err.what() << "\n";
      ++bad;
    }
  }
  if (bad > 0) return 2;
  std::cout << fmt::format("{}: {} shards verified\n", dir, m.shards.size());
  return 0;
}

void run_info(const std::string& source) {
  const data::SourceLayout L = input_error([&] { return data::resolve_source(source); });
  std::cout << fmt::format("{}: {}\n  vocab {}{}\n  train {} tokens in {} segments\n"
                           "  validation {} tokens in {} segments\n",
                           source, L.origin, L.vocab, L.vocab_exact ? " (from manifest.json)" : " (at least)",
                           L.tokens(data::Split::Train), L.train.size(),
                           L.tokens(data::Split::Validation), L.validation.size());
}

void add_data(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("data", "Prepare and check training data (token shards)");
  sub->require_subcommand(1);
  auto a = std::make_shared<PrepareArgs>();
  auto* prep = sub->add_subcommand("prepare", "Tokenize text files, folders or .jsonl into shards");
  prep->add_option("inputs", a->opt.inputs, "text files, folders, .jsonl files (a 'text' field)")
      ->required();
  prep->add_option("--out", a->opt.out, "folder to create for the shards")->required();
  prep->add_option("--tokenizer", a->opt.tokenizer,
                   "byte (vocab 256) | bpe | unigram (SentencePiece, trained here) | FILE.model")
      ->capture_default_str();
  prep->add_option("--train-tokenizer", a->train_vocab, "vocab of the bpe/unigram tokenizer to train");
  prep->add_option("--val-fraction", a->opt.val_fraction, "share of documents held out")
      ->capture_default_str();
  prep->add_option("--shard-tokens", a->shard_tokens, "tokens per shard")->capture_default_str();
  prep->add_option("--text-docs", a->text_docs, "documents of a text file: file | paragraph | line")
      ->capture_default_str();
  prep->add_option("--threads", a->opt.threads, "tokenizer threads (0: one per core)");
  prep->add_option("--tokenizer-lines", a->opt.tokenizer_lines, "lines sampled to train a tokenizer")
      ->capture_default_str();
  prep->add_flag("--quiet", a->quiet, "no progress line");
  prep->callback([a] { run_prepare(*a); });

  auto dir = std::make_shared<std::string>();
  auto* verify = sub->add_subcommand("verify", "Check every shard's checksum and tokens against its manifest");
  verify->add_option("dir", *dir, "shard folder (with manifest.json)")->required();
  verify->callback([dir, &ctx] { ctx.rc = run_verify(*dir); });

  auto src = std::make_shared<std::string>();
  auto* info = sub->add_subcommand("info", "Show what a sheet's data cell resolves to");
  info->add_option("source", *src, "builtin:kjv | text:FILE | shards:DIR | tokens:FILE")->required();
  info->callback([src] { run_info(*src); });
}

}  // namespace

SCALELAB_COMMAND(add_data);

}  // namespace scalelab::cli
