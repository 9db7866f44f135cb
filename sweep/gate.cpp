#include "sweep/gate.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <vector>

namespace scalelab::sweep {

// A node of the parsed gate: a number, a call, an operator with two operands,
// or `within` (three: value, tolerance, reference).
struct Gate::Node {
  enum Kind { Number, Exponent, Loss, Neg, Add, Sub, Mul, Div, Le, Lt, Ge, Gt, Within, And } kind;
  double value = 0;
  std::string arch, which;
  std::vector<std::shared_ptr<const Node>> args;
};

namespace {

using NodeP = std::shared_ptr<const Gate::Node>;
using Node = Gate::Node;

struct Token {
  enum Kind { Num, Word, Str, Sym, End } kind;
  std::string text;
  double num = 0;
  size_t pos = 0;
};

std::vector<Token> lex(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  auto word_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
           c == '@';
  };
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
    Token t{Token::Sym, "", 0, i};
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t used = 0;
      t.num = std::stod(s.substr(i), &used);
      t.kind = Token::Num;
      t.text = s.substr(i, used);
      i += used;
    } else if (c == '\'' || c == '"') {
      const size_t end = s.find(c, i + 1);
      if (end == std::string::npos)
        throw GateError(fmt::format("gate: quote at {} is never closed", i + 1));
      t.kind = Token::Str;
      t.text = s.substr(i + 1, end - i - 1);
      i = end + 1;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && word_char(s[j])) ++j;
      t.kind = Token::Word;
      t.text = s.substr(i, j - i);
      i = j;
    } else if ((c == '<' || c == '>') && i + 1 < s.size() && s[i + 1] == '=') {
      t.text = s.substr(i, 2);
      i += 2;
    } else if (std::string("()+-*/<>,").find(c) != std::string::npos) {
      t.text = std::string(1, c);
      ++i;
    } else {
      throw GateError(fmt::format("gate: unexpected '{}' at {}", c, i + 1));
    }
    out.push_back(t);
  }
  out.push_back({Token::End, "end of the gate", 0, s.size()});
  return out;
}

class Parser {
 public:
  explicit Parser(const std::string& s) : t_(lex(s)) {}

  NodeP gate() {
    NodeP n = cond();
    while (is_word("and")) {
      ++i_;
      n = make(Node::And, {n, cond()});
    }
    if (t_[i_].kind != Token::End) fail("'and' or the end of the gate");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& expected) const {
    throw GateError(fmt::format("gate: expected {} at {}, found '{}'", expected, t_[i_].pos + 1,
                                t_[i_].text));
  }
  bool is_sym(const char* s) const { return t_[i_].kind == Token::Sym && t_[i_].text == s; }
  bool is_word(const char* s) const { return t_[i_].kind == Token::Word && t_[i_].text == s; }
  void expect(const char* s) {
    if (!is_sym(s)) fail(std::string("'") + s + "'");
    ++i_;
  }
  static NodeP make(Node::Kind k, std::vector<NodeP> args) {
    auto n = std::make_shared<Node>();
    n->kind = k;
    n->args = std::move(args);
    return n;
  }

  NodeP cond() {
    NodeP a = expr();
    if (is_word("within")) {
      ++i_;
      NodeP tol = expr();
      if (!is_word("of")) fail("'of'");
      ++i_;
      return make(Node::Within, {a, tol, expr()});
    }
    static const std::pair<const char*, Node::Kind> ops[] = {
        {"<=", Node::Le}, {"<", Node::Lt}, {">=", Node::Ge}, {">", Node::Gt}};
    for (const auto& [s, k] : ops)
      if (is_sym(s)) {
        ++i_;
        return make(k, {a, expr()});
      }
    fail("a comparison (<=, <, >=, >) or 'within'");
  }
  NodeP expr() {
    NodeP n = term();
    while (is_sym("+") || is_sym("-")) {
      const Node::Kind k = is_sym("+") ? Node::Add : Node::Sub;
      ++i_;
      n = make(k, {n, term()});
    }
    return n;
  }
  NodeP term() {
    NodeP n = factor();
    while (is_sym("*") || is_sym("/")) {
      const Node::Kind k = is_sym("*") ? Node::Mul : Node::Div;
      ++i_;
      n = make(k, {n, factor()});
    }
    return n;
  }
  NodeP factor() {
    const Token& t = t_[i_];
    if (t.kind == Token::Num) {
      ++i_;
      auto n = std::make_shared<Node>();
      n->kind = Node::Number;
      n->value = t.num;
      return n;
    }
    if (is_sym("(")) {
      ++i_;
      NodeP n = expr();
      expect(")");
      return n;
    }
    if (is_sym("-")) {
      ++i_;
      return make(Node::Neg, {factor()});
    }
    if (is_word("exponent") || is_word("loss")) return call();
    fail("a number, '(' or exponent(ARCH) / loss(ARCH, largest|smallest|best)");
  }
  std::string arch() {
    const Token& t = t_[i_];
    if (t.kind != Token::Word && t.kind != Token::Str) fail("an architecture");
    ++i_;
    return t.text;
  }
  NodeP call() {
    auto n = std::make_shared<Node>();
    n->kind = t_[i_].text == "exponent" ? Node::Exponent : Node::Loss;
    ++i_;
    expect("(");
    n->arch = arch();
    if (n->kind == Node::Loss) {
      expect(",");
      if (!is_word("largest") && !is_word("smallest") && !is_word("best"))
        fail("largest, smallest or best");
      n->which = t_[i_++].text;
    }
    expect(")");
    return n;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
};

std::string num(double v) { return fmt::format("{:.5g}", v); }

struct Evaluator {
  GateValues& v;
  std::string detail;

  double value(const Node& n) {
    auto a = [&](size_t i) { return value(*n.args[i]); };
    switch (n.kind) {
      case Node::Number: return n.value;
      case Node::Exponent: return note("exponent(" + n.arch + ")", v.exponent(n.arch));
      case Node::Loss: return note("loss(" + n.arch + ", " + n.which + ")", v.loss(n.arch, n.which));
      case Node::Neg: return -a(0);
      case Node::Add: return a(0) + a(1);
      case Node::Sub: return a(0) - a(1);
      case Node::Mul: return a(0) * a(1);
      case Node::Div: return a(0) / a(1);
      default: throw GateError("gate: a condition where a value belongs");
    }
  }
  double note(const std::string& what, double x) {
    detail += (detail.empty() ? "" : "; ") + what + " = " + num(x);
    return x;
  }
  bool holds(const Node& n) {
    if (n.kind == Node::And) {
      const bool l = holds(*n.args[0]);
      const bool r = holds(*n.args[1]);
      return l && r;
    }
    if (n.kind == Node::Within) {
      const double x = value(*n.args[0]), tol = value(*n.args[1]), ref = value(*n.args[2]);
      const bool ok = std::fabs(x - ref) <= tol;
      detail += fmt::format("; |{} - {}| = {} {} {}", num(x), num(ref), num(std::fabs(x - ref)),
                            ok ? "<=" : ">", num(tol));
      return ok;
    }
    const double l = value(*n.args[0]), r = value(*n.args[1]);
    bool ok = false;
    const char* op = "";
    switch (n.kind) {
      case Node::Le: ok = l <= r; op = "<="; break;
      case Node::Lt: ok = l < r; op = "<"; break;
      case Node::Ge: ok = l >= r; op = ">="; break;
      case Node::Gt: ok = l > r; op = ">"; break;
      default: throw GateError("gate: a value where a condition belongs");
    }
    detail += fmt::format("; {} {} {}: {}", num(l), op, num(r), ok ? "holds" : "fails");
    return ok;
  }
};

}  // namespace

Gate Gate::parse(const std::string& text) {
  Gate g;
  g.text_ = text;
  g.root_ = Parser(text).gate();
  return g;
}

GateVerdict Gate::evaluate(GateValues& v) const {
  Evaluator e{v, ""};
  GateVerdict out;
  out.pass = e.holds(*root_);
  out.detail = e.detail.substr(e.detail.rfind("; ", 0) == 0 ? 2 : 0) + (out.pass ? " -> pass" : " -> fail");
  return out;
}

}  // namespace scalelab::sweep
