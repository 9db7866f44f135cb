// The inputs of `scalelab data prepare`, read as a stream of documents.
//
// An input is a file or a directory. Directories are walked recursively in
// sorted order and contribute their .txt, .text, .md and .jsonl files; a file
// named directly is read whatever its extension. A .jsonl file holds one JSON
// object per line with a string field `text` (one document each; blank lines
// are skipped). Any other file is UTF-8 text whose documents are (--text-docs):
//   file       the whole file (the default);
//   paragraph  runs of lines ended by a blank line;
//   line       each non-empty line (its newline dropped).
// A NUL byte marks a binary file (and is the byte tokenizer's end-of-text), so
// it is refused, naming the file and line.
//
// Long documents arrive in pieces of about 4 MiB cut after a newline, so
// memory stays bounded whatever a document's size; `starts_document` marks the
// first piece of each.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace scalelab::data {

enum class TextDocs { File, Paragraph, Line };
// "file" | "paragraph" | "line"; throws DataError for anything else.
TextDocs parse_text_docs(const std::string& s);
const char* to_string(TextDocs d);

struct InputFile {
  std::string path;
  int64_t bytes = 0;
  bool jsonl = false;
};

struct InputList {
  std::vector<InputFile> files;
  int64_t bytes = 0;
  int64_t skipped = 0;  // files in directories with other extensions
};

// Expands PATHS. Throws DataError naming a missing input, or when no file is found.
InputList list_inputs(const std::vector<std::string>& paths);

struct Piece {
  std::string text;
  bool starts_document = false;
};

class DocumentReader {
 public:
  DocumentReader(std::vector<InputFile> files, TextDocs mode);
  ~DocumentReader();
  // The next piece; false at the end of the last input. Throws DataError
  // naming FILE:LINE for bad JSON, a missing `text` field or a NUL byte.
  bool next(Piece& out);
  // Bytes of the inputs consumed so far.
  int64_t bytes_read() const { return done_bytes_ + line_bytes_; }

 private:
  bool read_line();  // into line_; false at the end of the current file
  bool open_next();
  bool next_jsonl(Piece& out);
  bool next_text(Piece& out);
  [[noreturn]] void fail(const std::string& what) const;

  std::vector<InputFile> files_;
  TextDocs mode_;
  size_t next_file_ = 0;
  FILE* f_ = nullptr;
  const InputFile* cur_ = nullptr;
  int64_t line_no_ = 0, done_bytes_ = 0, line_bytes_ = 0;
  std::string line_;
  char* gbuf_ = nullptr;  // getline's buffer, reused
  size_t gcap_ = 0;
  bool in_document_ = false;  // a text document continues in the next piece
};

}  // namespace scalelab::data
