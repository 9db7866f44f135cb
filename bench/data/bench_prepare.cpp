// bench_prepare DIR [MB] [VOCAB] [byte]: `data prepare` throughput and peak memory
// (a fourth argument "byte" runs the byte-level cases only).
//
// Writes a corpus of MB megabytes (default 200) under DIR (bench/data/corpus.h),
// then runs data::prepare on it in a child process per case, so each case's
// peak RSS is its own (wait4's ru_maxrss):
//   byte   / text files (paragraph documents)     all cores, then 1 thread
//   byte   / .jsonl
//   bpe    trained on the corpus (vocab VOCAB, default 32000), then encode
//   bpe    the trained .model (encode only)        all cores, then 1 thread
// MB/s is megabytes of document text per second of wall time, the whole
// prepare included (reading, tokenizing, shards, checksums, manifest).
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "bench/data/corpus.h"
#include "data/files.h"
#include "data/format.h"
#include "data/prepare.h"

namespace fs = std::filesystem;
namespace data = scalelab::data;

namespace {

struct Case {
  std::string name;
  data::PrepareOptions opt;
};

// Runs prepare(opt) in a child; prints wall time, MB/s and the child's peak RSS.
void run_case(const Case& c, int64_t text_bytes) {
  data::remove_tree(c.opt.out);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      data::prepare(c.opt);
      std::_Exit(0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", c.name.c_str(), e.what());
      std::_Exit(1);
    }
  }
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fmt::print("| {} | failed | | | |\n", c.name);
    return;
  }
  const double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  fmt::print("| {} | {:.2f} s | {:.2f} s | **{:.1f} MB/s** | {:.0f} MB |\n", c.name, s, cpu,
             static_cast<double>(text_bytes) / 1e6 / s, ru.ru_maxrss / 1024.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/bench_prepare";
  const int64_t mb = argc > 2 ? std::atoll(argv[2]) : 200;
  const int64_t vocab = argc > 3 ? std::atoll(argv[3]) : 32000;
  const auto corpus = scalelab::bench::write_corpus(dir, mb * 1000000);
  fmt::print("corpus: {:.1f} MB of text, {} documents, {} cores\n\n", corpus.bytes / 1e6,
             corpus.documents, std::thread::hardware_concurrency());
  fmt::print("| case | wall | cpu | throughput | peak RSS |\n|---|---|---|---|---|\n");
  auto base = [&](const std::string& input, const std::string& out) {
    data::PrepareOptions o;
    o.inputs = {input};
    o.out = dir + "/" + out;
    o.text_docs = data::TextDocs::Paragraph;
    o.progress = false;
    return o;
  };
  Case byte{"byte, text files", base(corpus.text_dir, "byte")};
  run_case(byte, corpus.bytes);
  byte.name += ", 1 thread";
  byte.opt.threads = 1;
  run_case(byte, corpus.bytes);
  run_case({"byte, .jsonl", base(corpus.jsonl, "jsonl")}, corpus.bytes);
  if (argc > 4 && std::string(argv[4]) == "byte") return 0;
  Case train{fmt::format("bpe {} trained here + encode", vocab), base(corpus.text_dir, "bpe")};
  train.opt.tokenizer = "bpe";
  train.opt.train_vocab = vocab;
  run_case(train, corpus.bytes);
  const std::string model = dir + "/bpe.model";
  fs::copy_file(dir + "/bpe/tokenizer.model", model, fs::copy_options::overwrite_existing);
  Case encode{fmt::format("bpe {} from .model (encode only)", vocab), base(corpus.text_dir, "bpe2")};
  encode.opt.tokenizer = model;
  run_case(encode, corpus.bytes);
  encode.name += ", 1 thread";
  encode.opt.threads = 1;
  run_case(encode, corpus.bytes);
  return 0;
}
