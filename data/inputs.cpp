#include "data/inputs.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "data/format.h"

namespace fs = std::filesystem;

namespace scalelab::data {
namespace {

constexpr size_t kPieceBytes = 4 << 20;

bool has_ext(const fs::path& p, std::initializer_list<const char*> exts) {
  const std::string e = p.extension().string();
  return std::any_of(exts.begin(), exts.end(), [&](const char* x) { return e == x; });
}

InputFile make_input(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) throw DataError(p.string() + ": cannot read its size: " + ec.message());
  return {p.string(), static_cast<int64_t>(size), has_ext(p, {".jsonl"})};
}

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t\r\n\f\v") == std::string::npos;
}

}  // namespace

TextDocs parse_text_docs(const std::string& s) {
  if (s == "file") return TextDocs::File;
  if (s == "paragraph") return TextDocs::Paragraph;
  if (s == "line") return TextDocs::Line;
  throw DataError("--text-docs '" + s + "' is not one of file, paragraph, line");
}

const char* to_string(TextDocs d) {
  return d == TextDocs::File ? "file" : d == TextDocs::Paragraph ? "paragraph" : "line";
}

InputList list_inputs(const std::vector<std::string>& paths) {
  InputList out;
  for (const std::string& p : paths) {
    std::error_code ec;
    const auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) throw DataError(p + ": no such file or directory");
    if (!fs::is_directory(st)) {
      out.files.push_back(make_input(p));
      continue;
    }
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      if (has_ext(it->path(), {".txt", ".text", ".md", ".jsonl"})) found.push_back(it->path());
      else ++out.skipped;
    }
    if (ec) throw DataError(p + ": cannot list: " + ec.message());
    std::sort(found.begin(), found.end());
    for (const fs::path& f : found) out.files.push_back(make_input(f));
  }
  if (out.files.empty())
    throw DataError("no input files (.txt, .text, .md or .jsonl) found in the inputs given");
  for (const InputFile& f : out.files) out.bytes += f.bytes;
  return out;
}

DocumentReader::DocumentReader(std::vector<InputFile> files, TextDocs mode)
    : files_(std::move(files)), mode_(mode) {}

DocumentReader::~DocumentReader() {
  if (f_) std::fclose(f_);
  std::free(gbuf_);
}

void DocumentReader::fail(const std::string& what) const {
  throw DataError(cur_->path + ":" + std::to_string(line_no_) + ": " + what);
}

bool DocumentReader::open_next() {
  if (next_file_ >= files_.size()) return false;
  cur_ = &files_[next_file_++];
  f_ = std::fopen(cur_->path.c_str(), "rb");
  if (!f_) throw DataError(cur_->path + ": cannot open: " + std::strerror(errno));
  line_no_ = 0;
  in_document_ = false;
  return true;
}

bool DocumentReader::read_line() {
  const ssize_t n = ::getline(&gbuf_, &gcap_, f_);
  if (n < 0) {
    if (std::ferror(f_)) fail(std::string("read failed: ") + std::strerror(errno));
    return false;
  }
  line_.assign(gbuf_, static_cast<size_t>(n));
  ++line_no_;
  line_bytes_ += n;
  if (std::memchr(line_.data(), 0, line_.size()))
    fail("holds a NUL byte: not a text file (NUL is the byte tokenizer's end-of-text)");
  return true;
}

bool DocumentReader::next_jsonl(Piece& out) {
  while (read_line()) {
    if (blank(line_)) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line_);
    } catch (const nlohmann::json::exception&) {
      fail("not a valid JSON line");
    }
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      fail("has no string field 'text'");
    out.text = j["text"].get<std::string>();
    if (std::memchr(out.text.data(), 0, out.text.size())) fail("'text' holds a NUL character");
    out.starts_document = true;
    return true;
  }
  return false;
}

bool DocumentReader::next_text(Piece& out) {
  out.text.clear();
  out.starts_document = !in_document_;
  while (read_line()) {
    if (mode_ == TextDocs::Line) {
      if (!line_.empty() && line_.back() == '\n') line_.pop_back();
      if (line_.empty()) continue;
      out.text = line_;
      return true;
    }
    if (mode_ == TextDocs::Paragraph && blank(line_)) {
      if (out.text.empty()) continue;
      in_document_ = false;
      return true;
    }
    out.text += line_;
    if (out.text.size() >= kPieceBytes) {
      in_document_ = true;
      return true;
    }
  }
  in_document_ = false;  // the end of a file ends its document
  return !out.text.empty();
}

bool DocumentReader::next(Piece& out) {
  for (;;) {
    if (!f_ && !open_next()) return false;
    if (cur_->jsonl ? next_jsonl(out) : next_text(out)) return true;
    std::fclose(f_);
    f_ = nullptr;
    done_bytes_ += line_bytes_;
    line_bytes_ = 0;
  }
}

}  // namespace scalelab::data
