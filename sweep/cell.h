// Cell syntax of a sweep sheet.
//
//   value             12   1e18   7B   125M   20k   3e-4   softmax
//   list              a|b|c          items may themselves be ranges: 64|128..512*2
//   geometric range   start..stop*k  128..1024*2 -> 128 256 512 1024
//   arithmetic range  start..stop+k  1..4+1     -> 1 2 3 4   (stop is kept when hit)
//   zip group         zip:6|12|24    every `zip:` cell of a row varies together
//                                    (zip.NAME: starts another group)
// Number suffixes: k = 1e3, M = 1e6, B or G = 1e9, T = 1e12; integers are
// exact (1.5k = 1500, 7B = 7000000000), so a suffix never rounds a shape.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace scalelab::sweep {

enum class CellKind {
  Label,  // one string, no list syntax (name, stage)
  Text,   // strings, lists allowed (arch, schedule, data)
  Int,    // integers, lists and ranges
  Real,   // reals, lists and ranges
  Bool,   // true/false, yes/no, 1/0, tied/untied; lists allowed
};

struct CellValue {
  std::string text;  // Label, Text
  int64_t i = 0;     // Int
  double d = 0;      // Real
  bool b = false;    // Bool
};

struct Cell {
  std::vector<CellValue> values;  // at least one
  std::optional<std::string> zip;  // zip group name ("" for plain `zip:`)
};

// The message of one bad cell; the caller adds file, row and column.
struct CellError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Parses one non-empty cell. Throws CellError: "bad number 'x'", "empty range
// '8..4*2' (start is above stop)", ...
Cell parse_cell(std::string_view text, CellKind kind);

// Numbers with the suffixes above; nullopt when S is not a finite number.
std::optional<double> parse_real(std::string_view s);
// Throws CellError when S is not a number, not an integer, or out of range.
int64_t parse_int(std::string_view s);

// Upper bound on the values one cell may produce; more is surely a typo.
inline constexpr size_t kMaxCellValues = 1'000'000;

}  // namespace scalelab::sweep
