// Reading a sweep sheet: the CSV or TSV that Excel or LibreOffice save.
//
// Rows are numbered as the file's lines (1-based), which is how a spreadsheet
// numbers them and how an editor jumps to them. Lines whose first non-blank
// character is '#' are comments; blank lines (and rows of empty cells, which
// spreadsheets write for blank rows) are skipped. Quoting follows the usual
// CSV rules ("a,b" is one cell, "" a literal quote) and is parsed by libcsv
// in strict mode, so an unbalanced quote is an error instead of a row that
// silently swallows the rest of the file.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace scalelab::sweep {

// One problem in a sheet, printed "file:row:column: message". `column` is the
// header name (or "" when the problem is the whole row or file).
struct SheetError {
  std::string file;
  int row = 0;
  std::string column;
  std::string message;
  std::string str() const;
};

// Every problem of a sheet at once; what() lists them, one per line.
class SheetErrors : public std::runtime_error {
 public:
  explicit SheetErrors(std::vector<SheetError> errors);
  const std::vector<SheetError>& errors() const { return errors_; }

 private:
  std::vector<SheetError> errors_;
};

struct SheetRow {
  int line = 0;                    // file line where the row starts
  std::vector<std::string> cells;  // unquoted, unquoted cells trimmed of blanks
};

struct Sheet {
  std::string path;                  // as given; prefixes every error
  char delimiter = ',';
  int header_line = 0;
  std::vector<std::string> columns;  // header cells, trimmed and lower-cased
  std::vector<SheetRow> rows;        // data rows in file order
};

// Tab when the file ends in .tsv or .tab; otherwise whichever of ',', ';' and
// tab the header row (the first non-comment line) holds most of; comma when
// it holds none.
char sniff_delimiter(const std::string& path, std::string_view text);

// Parses TEXT (a whole file). Throws SheetErrors for malformed quoting or a
// missing header row.
Sheet parse_sheet(std::string_view text, const std::string& path, char delimiter);
// Reads and parses PATH; throws SheetErrors when it cannot be read.
Sheet read_sheet(const std::string& path);

// One CSV cell, quoted only when it must be (delimiter, quote, line break, or
// leading/trailing blanks), so the expanded sheet stays readable.
std::string csv_cell(std::string_view value, char delimiter = ',');

}  // namespace scalelab::sweep
