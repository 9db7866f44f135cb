// Stage gates: a condition on the results of the stage before, written in the
// sheet's `gate` column, e.g.
//
//   exponent(lightning) within 0.02 of exponent(softmax)
//   loss(hgrn2, largest) <= 1.01 * loss(softmax, largest) and exponent(hgrn2) > 0
//
// Grammar:
//   gate   := cond ('and' cond)*
//   cond   := expr ('<=' | '<' | '>=' | '>') expr  |  expr 'within' expr 'of' expr
//   expr   := term (('+' | '-') term)*         term := factor (('*' | '/') factor)*
//   factor := number | '(' expr ')' | '-' factor | call
//   call   := exponent(ARCH)                    L(C) exponent alpha of ARCH's done runs
//           | loss(ARCH, largest|smallest|best)  final loss of ARCH's largest (most
//                                                parameters) or smallest run, or its lowest
// ARCH is an architecture as the runs name it; quote it ('hybrid(lightning,softmax@7:1)')
// when it holds parentheses or commas. The gate is parsed when the sheet is
// planned (errors point at the cell) and evaluated when the stage before is
// finished; the verdict shows every number it used.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

namespace scalelab::sweep {

struct GateError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The numbers a gate asks for; each throws GateError when the runs cannot
// give it (no done runs of ARCH, too few sizes for a fit).
struct GateValues {
  virtual ~GateValues() = default;
  virtual double exponent(const std::string& arch) = 0;
  virtual double loss(const std::string& arch, const std::string& which) = 0;
};

struct GateVerdict {
  bool pass = false;
  std::string detail;  // "exponent(lightning) = 0.0712; exponent(softmax) = 0.065; ... -> pass"
};

class Gate {
 public:
  // Throws GateError with the position and what was expected.
  static Gate parse(const std::string& text);
  // Throws GateError when a value cannot be had.
  GateVerdict evaluate(GateValues& v) const;
  const std::string& text() const { return text_; }

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

}  // namespace scalelab::sweep
