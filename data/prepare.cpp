#include "data/prepare.h"

#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include "data/files.h"
#include "data/format.h"
#include "data/progress.h"
#include "data/sink.h"
#include "data/tokenizer.h"

namespace fs = std::filesystem;

namespace scalelab::data {
namespace {

constexpr uint64_t kSplitSeed = 0x5ca1ab1e;
constexpr size_t kBatchBytes = 4 << 20;

// One batch of pieces, tokenized: the tokens of piece i are
// tokens[offsets[i], offsets[i + 1]).
struct Encoded {
  std::vector<uint32_t> tokens;
  std::vector<int64_t> offsets{0};
  std::vector<uint8_t> starts, held;
  int64_t bytes_end = 0;  // input bytes consumed once this batch is written
};

Encoded encode_batch(const Tokenizer& tok, const std::vector<Piece>& pieces, double fraction,
                     int64_t bytes_end) {
  Encoded e;
  e.bytes_end = bytes_end;
  if (tok.info().type == "byte") {  // exactly one token a byte: no regrowth of the buffer
    size_t bytes = 0;
    for (const Piece& p : pieces) bytes += p.text.size();
    e.tokens.reserve(bytes);
  }
  for (const Piece& p : pieces) {
    tok.encode(p.text, e.tokens);
    e.offsets.push_back(static_cast<int64_t>(e.tokens.size()));
    e.starts.push_back(p.starts_document);
    e.held.push_back(p.starts_document && held_out(p.text, fraction));
  }
  return e;
}

void check_options(const PrepareOptions& o) {
  const bool trains = o.tokenizer == "bpe" || o.tokenizer == "unigram";
  if (trains && o.train_vocab <= 0)
    throw DataError("--tokenizer " + o.tokenizer + " trains a tokenizer: give --train-tokenizer VOCAB");
  if (!trains && o.train_vocab > 0)
    throw DataError("--train-tokenizer needs --tokenizer bpe or unigram, not '" + o.tokenizer + "'");
  if (trains && (o.train_vocab < 300 || o.train_vocab > (int64_t{1} << 31)))
    throw DataError("--train-tokenizer " + std::to_string(o.train_vocab) +
                    " is out of range (at least 300: 256 byte pieces, 3 specials and the characters)");
  if (!(o.val_fraction > 0 && o.val_fraction < 1))
    throw DataError(fmt::format("--val-fraction {} must be in (0, 1)", o.val_fraction));
  if (o.shard_tokens < 1 || o.shard_tokens > kMaxShardTokens)
    throw DataError(fmt::format("--shard-tokens {} must be in [1, 2^31-1]", o.shard_tokens));
  if (o.out.empty()) throw DataError("--out DIR is required");
  std::error_code ec;
  if (fs::exists(o.out, ec) && !(fs::is_directory(o.out, ec) && fs::is_empty(o.out, ec)))
    throw DataError(o.out + ": already exists; remove it or choose another --out");
}

std::unique_ptr<Tokenizer> make_tokenizer(const PrepareOptions& o, const InputList& in, int threads) {
  if (o.tokenizer == "byte") return byte_tokenizer();
  if (o.tokenizer != "bpe" && o.tokenizer != "unigram") {
    if (!fs::is_regular_file(o.tokenizer))
      throw DataError("--tokenizer '" + o.tokenizer +
                      "' is not byte, bpe, unigram or an existing SentencePiece .model file");
    return load_sentencepiece(o.tokenizer);
  }
  // Training sees the corpus as lines (SentencePiece's sentences).
  DocumentReader reader(in.files, o.text_docs);
  Progress prog(fmt::format("reading lines to train a {} tokenizer", o.tokenizer), in.bytes, o.progress, "lines");
  Piece piece;
  size_t at = 0;
  int64_t lines = 0;
  std::function<bool(std::string&)> next = [&](std::string& line) {
    for (;;) {
      if (at >= piece.text.size()) {
        if (!reader.next(piece)) {
          prog.finish(reader.bytes_read(), lines);
          return false;
        }
        at = 0;
      }
      const size_t nl = std::min(piece.text.find('\n', at), piece.text.size());
      line.assign(piece.text, at, nl - at);
      at = nl + 1;
      if (line.empty()) continue;
      prog.update(reader.bytes_read(), ++lines);
      return true;
    }
  };
  TrainTokenizerOptions t{o.tokenizer, o.train_vocab, threads, o.tokenizer_lines};
  auto tok = train_sentencepiece(t, next);
  if (o.progress) fmt::print(stderr, "trained a {} tokenizer of vocab {}\n", o.tokenizer, tok->info().vocab);
  return tok;
}

// Reads, tokenizes (THREADS batches in flight) and writes every document.
void tokenize_all(const PrepareOptions& o, const InputList& in, const Tokenizer& tok, int threads,
                  SplitSink& train, SplitSink& val) {
  DocumentReader reader(in.files, o.text_docs);
  Progress prog("prepare", in.bytes, o.progress);
  const auto eot = static_cast<uint32_t>(tok.info().eot);
  bool held = false;  // the split of the document being written
  auto write = [&](const Encoded& e) {
    for (size_t i = 0; i + 1 < e.offsets.size(); ++i) {
      if (e.starts[i]) held = e.held[i];
      (held ? val : train).write(e.tokens.data() + e.offsets[i], e.offsets[i + 1] - e.offsets[i],
                                 e.starts[i], eot);
    }
    prog.update(e.bytes_end, train.tokens() + val.tokens());
  };
  std::deque<std::future<Encoded>> inflight;
  for (bool more = true; more;) {
    auto batch = std::make_shared<std::vector<Piece>>();
    size_t bytes = 0;
    Piece p;
    while (bytes < kBatchBytes && (more = reader.next(p))) {
      bytes += p.text.size() + 1;
      batch->push_back(std::move(p));
    }
    if (batch->empty()) break;
    inflight.push_back(std::async(std::launch::async, [&tok, batch, f = o.val_fraction, b = reader.bytes_read()] {
      return encode_batch(tok, *batch, f, b);
    }));
    while (static_cast<int>(inflight.size()) > threads) {
      write(inflight.front().get());
      inflight.pop_front();
    }
  }
  for (; !inflight.empty(); inflight.pop_front()) write(inflight.front().get());
  prog.finish(reader.bytes_read(), train.tokens() + val.tokens());
}

void check_splits(const Manifest& m, const PrepareOptions& o) {
  const int64_t docs = m.documents(Split::Train) + m.documents(Split::Validation);
  if (docs == 0) throw DataError("the inputs hold no documents (every file is empty)");
  if (m.documents(Split::Validation) == 0)
    throw DataError(fmt::format(
        "the validation split is empty: none of the {} documents was held out at --val-fraction {}; "
        "raise --val-fraction, or cut text files into more documents (--text-docs paragraph or line)",
        docs, o.val_fraction));
  if (m.documents(Split::Train) == 0)
    throw DataError(fmt::format("the training split is empty: all {} documents were held out", docs));
}

void publish(const std::string& tmp, const std::string& out) {
  std::error_code ec;
  if (fs::is_directory(out, ec)) fs::remove(out, ec);  // empty (checked before starting)
  if (::rename(tmp.c_str(), out.c_str()) != 0)
    throw DataError(out + ": cannot move the finished shards into place: " + std::strerror(errno));
}

}  // namespace

bool held_out(std::string_view text, double val_fraction) {
  const uint64_t h = XXH3_64bits_withSeed(text.data(), text.size(), kSplitSeed);
  return static_cast<double>(h) < val_fraction * 18446744073709551616.0;
}

PrepareResult prepare(const PrepareOptions& o) {
  check_options(o);
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  const InputList in = list_inputs(o.inputs);
  const auto tok = make_tokenizer(o, in, threads);
  PrepareResult res;
  res.skipped_files = in.skipped;
  Manifest& m = res.manifest;
  m.tokenizer = tok->info();
  m.width = m.tokenizer.vocab <= 65536 ? 2 : 4;
  m.val_fraction = o.val_fraction;
  m.documents_from = to_string(o.text_docs);
  m.input_bytes = in.bytes;
  m.inputs = o.inputs;

  const std::string tmp = fmt::format("{}.tmp-{}", o.out, ::getpid());
  remove_tree(tmp);
  try {
    fs::create_directories(tmp);
    const auto start = std::chrono::steady_clock::now();
    SplitSink train(tmp, Split::Train, m.width, o.shard_tokens);
    SplitSink val(tmp, Split::Validation, m.width, o.shard_tokens);
    tokenize_all(o, in, *tok, threads, train, val);
    m.shards = train.close();
    for (ShardEntry& e : val.close()) m.shards.push_back(std::move(e));
    check_splits(m, o);
    tok->save(tmp);
    write_manifest(tmp, m);
    publish(tmp, o.out);
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } catch (...) {
    remove_tree(tmp);
    throw;
  }
  return res;
}

}  // namespace scalelab::data
