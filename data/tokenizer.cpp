#include "data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unordered_map>

#include "data/files.h"
#include "data/format.h"

namespace scalelab::data {
namespace {

constexpr const char* kModelFile = "tokenizer.model";

class ByteTokenizer final : public Tokenizer {
 public:
  void encode(std::string_view text, std::vector<uint32_t>& out) const override {
    const size_t at = out.size();
    out.resize(at + text.size());
    for (size_t i = 0; i < text.size(); ++i) out[at + i] = static_cast<uint8_t>(text[i]);
  }
  std::string decode(const std::vector<uint32_t>& tokens) const override {
    std::string s;
    for (uint32_t t : tokens) s.push_back(static_cast<char>(t));
    return s;
  }
  TokenizerInfo info() const override { return {"byte", "", "", 256, 0}; }
  void save(const std::string&) const override {}
};

class SpmTokenizer final : public Tokenizer {
 public:
  SpmTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp, std::string serialized,
               std::string model)
      : sp_(std::move(sp)), serialized_(std::move(serialized)), model_(std::move(model)) {}

  void encode(std::string_view text, std::vector<uint32_t>& out) const override {
    std::vector<int> ids;
    const auto st = sp_->Encode(text, &ids);
    if (!st.ok()) throw DataError("sentencepiece: cannot encode: " + st.ToString());
    out.insert(out.end(), ids.begin(), ids.end());
  }
  std::string decode(const std::vector<uint32_t>& tokens) const override {
    std::string s;
    const std::vector<int> ids(tokens.begin(), tokens.end());
    const auto st = sp_->Decode(ids, &s);
    if (!st.ok()) throw DataError("sentencepiece: cannot decode: " + st.ToString());
    return s;
  }
  TokenizerInfo info() const override {
    return {"sentencepiece", model_, kModelFile, sp_->GetPieceSize(), sp_->eos_id()};
  }
  void save(const std::string& dir) const override {
    write_file_atomic(dir + "/" + kModelFile, serialized_);
  }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string serialized_, model_;
};

std::unique_ptr<Tokenizer> from_serialized(std::string serialized, const std::string& where,
                                           std::string model) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto st = sp->LoadFromSerializedProto(serialized);
  if (!st.ok()) throw DataError(where + ": not a SentencePiece model: " + st.ToString());
  if (sp->eos_id() < 0)
    throw DataError(where + ": the model has no eos piece to separate documents with");
  return std::make_unique<SpmTokenizer>(std::move(sp), std::move(serialized), std::move(model));
}

class LineIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::function<bool(std::string&)>& next) : next_(next) { Next(); }
  bool done() const override { return done_; }
  void Next() override { done_ = !next_(line_); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::function<bool(std::string&)>& next_;
  std::string line_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<Tokenizer> byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& path) {
  std::string bytes;
  {
    auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto st = sp->Load(path);
    if (!st.ok()) throw DataError(path + ": cannot load a SentencePiece model: " + st.ToString());
    bytes = sp->serialized_model_proto();
  }
  return from_serialized(std::move(bytes), path, "");
}

std::unique_ptr<Tokenizer> train_sentencepiece(const TrainTokenizerOptions& opt,
                                               const std::function<bool(std::string&)>& next_line) {
  if (opt.model != "bpe" && opt.model != "unigram")
    throw DataError("tokenizer model '" + opt.model + "' is neither bpe nor unigram");
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", opt.model},
      {"vocab_size", std::to_string(opt.vocab)},
      {"num_threads", std::to_string(std::max(1, opt.threads))},
      {"input_sentence_size", std::to_string(opt.max_lines)},
      {"shuffle_input_sentence", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      {"character_coverage", "0.9995"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"minloglevel", "1"},  // SentencePiece's per-step INFO lines would bury the progress bar
  };
  LineIterator it(next_line);
  std::string serialized;
  const auto st = sentencepiece::SentencePieceTrainer::Train(args, &it, &serialized);
  if (!st.ok())
    throw DataError("training a SentencePiece " + opt.model + " tokenizer of vocab " +
                    std::to_string(opt.vocab) + " failed: " + st.ToString());
  return from_serialized(std::move(serialized), "trained tokenizer", opt.model);
}

std::unique_ptr<Tokenizer> load_tokenizer(const TokenizerInfo& info, const std::string& dir) {
  if (info.type == "byte") return byte_tokenizer();
  auto t = load_sentencepiece(dir + "/" + info.file);
  if (t->info().vocab != info.vocab)
    throw DataError(dir + "/" + info.file + ": vocab " + std::to_string(t->info().vocab) +
                    " disagrees with the manifest's " + std::to_string(info.vocab));
  return t;
}

}  // namespace scalelab::data
