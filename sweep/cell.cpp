#include "sweep/cell.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace scalelab::sweep {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A cell is echoed in full only when short: a 50 MB cell once made a 100 MB
// error message.
std::string quoted(std::string_view s) {
  constexpr size_t kShown = 60;
  if (s.size() <= kShown) return "'" + std::string(s) + "'";
  return "'" + std::string(s.substr(0, kShown)) + "...' (" + std::to_string(s.size()) + " characters)";
}

// A number as written: value = (neg ? -1 : 1) * digits * 10^exp. Keeping the
// decimal digits lets integers with suffixes (1.5k) be converted exactly.
struct Decimal {
  bool neg = false;
  std::string digits;
  int exp = 0;
};

int suffix_exponent(char c) {
  switch (c) {
    case 'k': case 'K': return 3;
    case 'M': return 6;
    case 'B': case 'G': return 9;
    case 'T': return 12;
    default: return -1;
  }
}

std::optional<Decimal> lex(std::string_view s) {
  s = trim(s);
  Decimal d;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) d.neg = s[i++] == '-';
  bool dot = false;
  for (; i < s.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      d.digits += s[i];
      if (dot) --d.exp;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (d.digits.empty()) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    int e = 0;
    const char* first = s.data() + i + 1;
    if (first < s.data() + s.size() && *first == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), e);
    if (ec != std::errc() || ptr == first || std::abs(e) > 400) return std::nullopt;
    d.exp += e;
    i = ptr - s.data();
  }
  if (i < s.size() && suffix_exponent(s[i]) >= 0) d.exp += suffix_exponent(s[i++]);
  if (i != s.size()) return std::nullopt;
  return d;
}

double to_real(const Decimal& d) {
  const std::string text = (d.neg ? "-" : "") + d.digits + "e" + std::to_string(d.exp);
  return std::strtod(text.c_str(), nullptr);  // correctly rounded
}

// Range values are products and sums of reals; 15 significant digits drop the
// last-bit noise so 1e-3..4e-3*2 yields exactly the doubles that typing
// 0.001|0.002|0.004 would, and the run ids agree.
double clean(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return std::strtod(buf, nullptr);
}

int64_t integral(double v, std::string_view item) {
  const double r = std::round(v);
  if (std::abs(v - r) > 1e-9 * std::max(1.0, std::abs(v)))
  {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    throw CellError("range " + quoted(item) + " gives " + buf + ", which is not an integer");
  }
  if (std::abs(r) >= 9.2e18) throw CellError("range " + quoted(item) + " leaves the integer range");
  return static_cast<int64_t>(r);
}

double range_number(std::string_view s, std::string_view item) {
  if (auto v = parse_real(s)) return *v;
  throw CellError("bad number " + quoted(trim(s)) + " in range " + quoted(item));
}

// start..stop*k or start..stop+k; the '+' of an exponent (1e+18) is not a step.
std::vector<double> expand_range(std::string_view item) {
  const size_t dots = item.find("..");
  const std::string_view start_s = item.substr(0, dots), rest = item.substr(dots + 2);
  size_t op = rest.find('*');
  if (op == std::string_view::npos) {
    for (size_t i = 1; i < rest.size(); ++i)
      if (rest[i] == '+' && rest[i - 1] != 'e' && rest[i - 1] != 'E') op = i;
  }
  if (op == std::string_view::npos)
    throw CellError("range " + quoted(item) + " needs a step: start..stop*k or start..stop+k");
  const bool geometric = rest[op] == '*';
  const double start = range_number(start_s, item), stop = range_number(rest.substr(0, op), item);
  const double k = range_number(rest.substr(op + 1), item);
  if (geometric && !(k > 1)) throw CellError("range " + quoted(item) + " needs a factor k > 1");
  if (geometric && !(start > 0)) throw CellError("range " + quoted(item) + " needs start > 0");
  if (!geometric && !(k > 0)) throw CellError("range " + quoted(item) + " needs a step k > 0");
  if (start > stop) throw CellError("empty range " + quoted(item) + " (start is above stop)");
  const double limit = stop + 1e-9 * std::abs(stop);
  // Count first, so a typo like 1..1e9+1 fails at once instead of after 1e6 pushes.
  const double count = geometric ? std::log(limit / start) / std::log(k) : (limit - start) / k;
  if (count >= static_cast<double>(kMaxCellValues))
    throw CellError("range " + quoted(item) + " has more than " + std::to_string(kMaxCellValues) +
                    " values");
  std::vector<double> out;
  for (size_t i = 0;; ++i) {
    const double v = geometric ? start * std::pow(k, static_cast<double>(i))
                               : start + k * static_cast<double>(i);
    if (v > limit) break;
    out.push_back(clean(v));
  }
  return out;
}

bool parse_bool(std::string_view s) {
  std::string w(trim(s));
  for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (w == "true" || w == "yes" || w == "1" || w == "tied") return true;
  if (w == "false" || w == "no" || w == "0" || w == "untied") return false;
  throw CellError("bad boolean " + quoted(trim(s)) + " (true/false, yes/no, 1/0, tied/untied)");
}

void add_item(std::string_view item, CellKind kind, std::vector<CellValue>& out) {
  CellValue v;
  if (kind == CellKind::Text) {
    v.text = std::string(item);
  } else if (kind == CellKind::Bool) {
    v.b = parse_bool(item);
  } else if (item.find("..") != std::string_view::npos) {
    for (double x : expand_range(item)) {
      if (kind == CellKind::Int) v.i = integral(x, item);
      v.d = x;
      out.push_back(v);
    }
    return;
  } else if (kind == CellKind::Int) {
    v.i = parse_int(item);
  } else {
    auto d = parse_real(item);
    if (!d) throw CellError("bad number " + quoted(item));
    v.d = *d;
  }
  out.push_back(std::move(v));
}

}  // namespace

std::optional<double> parse_real(std::string_view s) {
  auto d = lex(s);
  if (!d) return std::nullopt;
  const double v = to_real(*d);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

int64_t parse_int(std::string_view s) {
  auto d = lex(s);
  if (!d) throw CellError("bad number " + quoted(trim(s)));
  std::string digits = d->digits;
  if (d->exp < 0) {
    const size_t drop = static_cast<size_t>(-d->exp);
    const bool whole = drop <= digits.size() &&
                       digits.find_first_not_of('0', digits.size() - drop) == std::string::npos;
    if (!whole) throw CellError(quoted(trim(s)) + " is not an integer");
    digits.resize(digits.size() - drop);
    if (digits.empty()) digits = "0";
  } else {
    const size_t first = digits.find_first_not_of('0');
    if (first == std::string::npos) return 0;
    if (digits.size() - first + d->exp > 19) throw CellError(quoted(trim(s)) + " is too large");
    digits.append(static_cast<size_t>(d->exp), '0');
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size())
    throw CellError(quoted(trim(s)) + " is too large");
  return d->neg ? -v : v;
}

Cell parse_cell(std::string_view text, CellKind kind) {
  text = trim(text);
  Cell cell;
  if (kind == CellKind::Label) {
    cell.values.push_back({std::string(text)});
    return cell;
  }
  if (text.substr(0, 3) == "zip" && text.size() > 3 && (text[3] == ':' || text[3] == '.')) {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos)
      throw CellError("zip group " + quoted(text) + " needs a ':' before its values");
    cell.zip = std::string(text[3] == '.' ? text.substr(4, colon - 4) : std::string_view{});
    text = trim(text.substr(colon + 1));
    if (text.empty()) throw CellError("zip group has no values");
  }
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '|') continue;
    const std::string_view item = trim(text.substr(start, i - start));
    start = i + 1;
    if (item.empty()) throw CellError("empty item in list " + quoted(text));
    add_item(item, kind, cell.values);
    if (cell.values.size() > kMaxCellValues)
      throw CellError("cell has more than " + std::to_string(kMaxCellValues) + " values");
  }
  return cell;
}

}  // namespace scalelab::sweep
