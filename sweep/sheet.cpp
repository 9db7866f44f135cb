#include "sweep/sheet.h"

#include <csv.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>

namespace scalelab::sweep {

namespace {
// Messages quote cells; whatever a cell holds, one error stays one readable line.
std::string clipped(const std::string& s) {
  constexpr size_t kMax = 400;
  if (s.size() <= kMax) return s;
  return s.substr(0, kMax) + "... (" + std::to_string(s.size() - kMax) + " more characters)";
}
}  // namespace

std::string SheetError::str() const {
  const std::string m = clipped(message);
  const std::string col = clipped(column);
  if (row <= 0) return file + ": " + m;  // about the whole file
  std::string s = file + ":" + std::to_string(row) + ":";
  if (!col.empty()) s += col + ":";
  return s + " " + m;
}

namespace {
std::string join_errors(const std::vector<SheetError>& errors) {
  std::string s;
  for (const SheetError& e : errors) s += (s.empty() ? "" : "\n") + e.str();
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_comment(std::string_view line) {
  line = trim(line);
  return !line.empty() && line.front() == '#';
}

// Receives libcsv's callbacks. `ended` says whether the last callback closed a
// record: after feeding one physical line, that tells whether the next line
// starts a new record or continues a quoted cell that spans lines.
struct Collector {
  std::vector<std::string> fields;
  std::vector<SheetRow> rows;
  int record_line = 0;
  bool any_event = false;
  bool ended = false;
};

void on_field(void* s, size_t len, void* data) {
  auto* c = static_cast<Collector*>(data);
  c->fields.emplace_back(static_cast<const char*>(s), len);
  c->any_event = true;
  c->ended = false;
}

void on_record(int, void* data) {
  auto* c = static_cast<Collector*>(data);
  const bool blank = std::all_of(c->fields.begin(), c->fields.end(),
                                 [](const std::string& f) { return trim(f).empty(); });
  // A quoted comment ("# note, with a comma",,,) is only recognisable once parsed.
  const bool comment = !c->fields.empty() && is_comment(c->fields.front());
  if (!blank && !comment) c->rows.push_back({c->record_line, std::move(c->fields)});
  c->fields.clear();
  c->any_event = true;
  c->ended = true;
}

// In a TSV the tab is the delimiter, so only spaces are trimmed.
int space_only(unsigned char ch) { return ch == ' '; }

struct ParserFree {
  void operator()(csv_parser* p) const { csv_free(p); }
};

std::vector<SheetRow> parse_records(std::string_view text, const std::string& path, char delim) {
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0)
    throw std::runtime_error("libcsv: cannot initialise a parser");
  std::unique_ptr<csv_parser, ParserFree> guard(&parser);
  csv_set_delim(&parser, static_cast<unsigned char>(delim));
  // libcsv grows a cell's buffer by a fixed block (128 bytes): a 50 MB cell
  // took minutes of reallocations. 1 MiB blocks make that ~50.
  csv_set_blk_size(&parser, size_t{1} << 20);
  if (delim == '\t') csv_set_space_func(&parser, space_only);
  Collector c;
  int line = 0;
  bool at_start = true;
  // One physical line at a time, so every record knows the line it starts on.
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    const std::string_view ln = text.substr(pos, end - pos);
    pos = end;
    ++line;
    // Comments are skipped before parsing: a stray quote in one must not open a cell.
    if (at_start && is_comment(ln)) continue;
    if (at_start) c.record_line = line;
    c.any_event = false;
    if (csv_parse(&parser, ln.data(), ln.size(), on_field, on_record, &c) != ln.size())
      throw SheetErrors({{path, line, "",
                          "malformed CSV: a quote inside an unquoted cell or text after a "
                          "closing quote (quote the whole cell and double inner quotes)"}});
    at_start = c.any_event && c.ended;
  }
  if (csv_fini(&parser, on_field, on_record, &c) != 0 || csv_error(&parser) == CSV_EPARSE)
    throw SheetErrors({{path, c.record_line, "", "malformed CSV: a quoted cell is never closed"}});
  return std::move(c.rows);
}

}  // namespace

SheetErrors::SheetErrors(std::vector<SheetError> errors)
    : std::runtime_error(join_errors(errors)), errors_(std::move(errors)) {}

char sniff_delimiter(const std::string& path, std::string_view text) {
  auto ends_with = [&](std::string_view ext) {
    if (path.size() < ext.size()) return false;
    std::string tail = path.substr(path.size() - ext.size());
    std::transform(tail.begin(), tail.end(), tail.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    return tail == ext;
  };
  if (ends_with(".tsv") || ends_with(".tab")) return '\t';
  // A ".csv" from LibreOffice or Excel in many locales is separated by ';'
  // (the comma is their decimal mark): the header row tells, since column
  // names hold no separators.
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = std::min(text.find('\n', pos), text.size());
    const std::string_view ln = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (trim(ln).empty() || is_comment(ln)) continue;
    char best = ',';
    size_t most = 0;
    for (char d : {',', ';', '\t'}) {
      const size_t n = static_cast<size_t>(std::count(ln.begin(), ln.end(), d));
      if (n > most) {
        most = n;
        best = d;
      }
    }
    return best;
  }
  return ',';
}

Sheet parse_sheet(std::string_view text, const std::string& path, char delimiter) {
  // Excel writes a UTF-8 byte-order mark at the start of "CSV UTF-8" files.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  Sheet sheet;
  sheet.path = path;
  sheet.delimiter = delimiter;
  std::vector<SheetRow> rows = parse_records(text, path, delimiter);
  if (rows.empty())
    throw SheetErrors({{path, 1, "", "no header row (the first row names the columns)"}});
  sheet.header_line = rows.front().line;
  for (const std::string& cell : rows.front().cells) {
    std::string name(trim(cell));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    sheet.columns.push_back(std::move(name));
  }
  sheet.rows.assign(std::make_move_iterator(rows.begin() + 1), std::make_move_iterator(rows.end()));
  return sheet;
}

Sheet read_sheet(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SheetErrors({{path, 0, "", "cannot open the sheet"}});
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  return parse_sheet(text, path, sniff_delimiter(path, text));
}

std::string csv_cell(std::string_view value, char delimiter) {
  const bool plain =
      value.find_first_of(std::string{delimiter, '"', '\n', '\r'}) == std::string_view::npos &&
      (value.empty() || (!std::isspace(static_cast<unsigned char>(value.front())) &&
                         !std::isspace(static_cast<unsigned char>(value.back()))));
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char ch : value) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

}  // namespace scalelab::sweep
