// The report's evals: recall against the share of softmax layers and
// against size (why hybrids exist), an S-NIAH heat map per run, and held-out
// loss by position.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "analysis/report.h"
#include "analysis/report_charts.h"

namespace scalelab::analysis {
namespace {

using namespace charts;

bool beyond_training(const db::EvalRow& e) {
  return e.detail.find("\"beyond_training\":true") != std::string::npos;
}

// A run's recall of one kind: MQAR accuracy, or S-NIAH recall over the
// contexts within its training length (prompts weighted equally). NaN: none.
double recall_of(const ReportInput& in, const EvalRun& r, const std::string& eval) {
  double sum = 0;
  int64_t n = 0;
  for (const db::EvalRow& e : in.evals) {
    if (e.run_id != r.id || e.eval != eval) continue;
    if (eval == "sniah" && beyond_training(e)) continue;
    sum += e.value * static_cast<double>(e.n);
    n += e.n;
  }
  return n > 0 ? sum / static_cast<double>(n) : std::nan("");
}

const char* kRecalls[][2] = {{"mqar", "MQAR accuracy"}, {"sniah", "S-NIAH recall (within training length)"}};

}  // namespace

std::string recall_vs_ratio_svg(const ReportInput& in) {
  std::vector<Series> out;
  size_t k = 0;
  for (const auto& [eval, label] : kRecalls) {
    // One line per model size: the share of softmax layers is what varies along it.
    std::map<std::string, std::vector<std::pair<double, double>>> by_size;
    for (const EvalRun& r : in.eval_runs)
      if (const double v = recall_of(in, r, eval); std::isfinite(v))
        by_size[short_count(r.params)].push_back({r.softmax_share, v});
    for (auto& [size, pts] : by_size) {
      std::sort(pts.begin(), pts.end());
      Series s = series(fmt::format("{}, N {}", label, size), palette(k++),
                        pts.size() > 1 ? Series::Style::Line : Series::Style::Markers,
                        std::string(eval) == "sniah" ? "5,3" : "");
      s.dots = true;
      for (const auto& [x, y] : pts) s.x.push_back(x), s.y.push_back(y);
      out.push_back(std::move(s));
    }
  }
  if (out.empty()) return "";
  Chart c{"Recall vs share of softmax layers (0: pure linear, 1/8: a 7:1 hybrid, 1: softmax)",
          "softmax-attention layers / all layers", "recall (exact match)"};
  c.log_x = c.log_y = false;
  c.width = 700;
  c.height = 380;
  return render_svg(c, out);
}

std::string recall_vs_size_svg(const ReportInput& in) {
  std::vector<Series> out;
  std::set<std::string> archs;
  for (const EvalRun& r : in.eval_runs) archs.insert(r.arch);
  for (const std::string& arch : archs)
    for (const auto& [eval, label] : kRecalls) {
      Series s = series(fmt::format("{}: {}", arch, label), arch_colour(arch),
                        std::string(eval) == "mqar" ? Series::Style::Markers : Series::Style::Open);
      for (const EvalRun& r : in.eval_runs)
        if (const double v = recall_of(in, r, eval); r.arch == arch && std::isfinite(v))
          s.x.push_back(r.params), s.y.push_back(v);
      if (!s.x.empty()) out.push_back(std::move(s));
    }
  if (out.empty()) return "";
  Chart c{"Recall vs model size", "parameters (total)", "recall (exact match)"};
  c.log_y = false;
  c.width = 700;
  c.height = 380;
  return render_svg(c, out);
}

std::string niah_heatmap_svg(const ReportInput& in, const EvalRun& run) {
  // Recall per (depth, context), prompts of every variant pooled.
  std::map<std::pair<double, int64_t>, std::pair<double, int64_t>> cells;
  std::set<double> depths;
  std::set<int64_t> contexts;
  std::set<std::string> variants;
  for (const db::EvalRow& e : in.evals) {
    if (e.run_id != run.id || e.eval != "sniah") continue;
    auto& c = cells[{e.depth, e.context}];
    c.first += e.value * static_cast<double>(e.n);
    c.second += e.n;
    depths.insert(e.depth);
    contexts.insert(e.context);
    variants.insert(e.variant);
  }
  if (cells.empty()) return "";
  const int cw = 64, ch = 26, left = 70, top = 48;
  const int w = left + cw * static_cast<int>(contexts.size()) + 20,
            h = top + ch * static_cast<int>(depths.size()) + 46;
  std::string vs;
  for (const std::string& v : variants) vs += (vs.empty() ? "" : ", ") + v;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<text x=\"4\" y=\"14\" font-size=\"13\">{2}</text>\n"
      "<text x=\"4\" y=\"30\" fill=\"#555\">S-NIAH recall ({3}); * past the training length {4}</text>\n",
      w, h, xml_escape(run.arch + (run.name.empty() ? "" : " (" + run.name + ")")), xml_escape(vs),
      run.seq_len);
  int col = 0;
  for (int64_t ctx : contexts) {
    const int x = left + cw * col++;
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}{}</text>\n", x + cw / 2,
                     top + ch * static_cast<int>(depths.size()) + 16, short_count(static_cast<double>(ctx)),
                     ctx > run.seq_len ? "*" : "");
    int row = 0;
    for (double d : depths) {
      const int y = top + ch * row++;
      auto it = cells.find({d, ctx});
      if (it == cells.end()) continue;
      const double v = it->second.first / static_cast<double>(std::max<int64_t>(1, it->second.second));
      // White (0) to dark blue (1).
      const int r = static_cast<int>(247 - v * (247 - 8)), g = static_cast<int>(251 - v * (251 - 81)),
                b = static_cast<int>(255 - v * (255 - 156));
      s += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},{})\" stroke=\"#ccc\"/>"
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{:.2f}</text>\n",
          x, y, cw, ch, r, g, b, x + cw / 2, y + ch / 2 + 4, v > 0.6 ? "#fff" : "#000", v);
    }
  }
  int row = 0;
  for (double d : depths)
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:g}%</text>\n", left - 6,
                     top + ch * row++ + ch / 2 + 4, d * 100);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">context (tokens)</text>\n",
                   left + cw * static_cast<int>(contexts.size()) / 2, h - 8);
  s += fmt::format("<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">"
                   "needle depth</text>\n",
                   top + ch * static_cast<int>(depths.size()) / 2, top + ch * static_cast<int>(depths.size()) / 2);
  return s + "</svg>";
}

std::string position_loss_svg(const ReportInput& in) {
  std::vector<Series> out;
  for (const EvalRun& r : in.eval_runs) {
    Series s = series(r.arch + (r.name.empty() ? "" : " (" + r.name + ")") + ", N " + short_count(r.params),
                      arch_colour(r.arch), Series::Style::Line);
    s.dots = true;
    for (const db::EvalRow& e : in.evals)
      if (e.run_id == r.id && e.eval == "position_loss")
        s.x.push_back(static_cast<double>(e.position)), s.y.push_back(e.value);
    if (!s.x.empty()) out.push_back(std::move(s));
  }
  if (out.empty()) return "";
  Chart c{"Held-out loss by token position (buckets of doubling width, ending at x)",
          "token position", "loss (nats/token)"};
  c.log_y = false;
  c.width = 700;
  c.height = 380;
  return render_svg(c, out);
}

std::string evals_html(const ReportInput& in) {
  if (in.evals.empty()) return "";
  auto fig = [](const std::string& svg) { return svg.empty() ? "" : "<figure>" + svg + "</figure>\n"; };
  std::string h =
      "<h2>Retrieval and long context</h2>\n<p>MQAR: accuracy on held-out multi-query "
      "associative recall sequences of each mqar run's own shape. S-NIAH: exact match of the "
      "needle's value by greedy decoding (RULER-style single needle), pooled over variants; "
      "contexts past the training length are marked *. From <code>scalelab eval</code>.</p>\n";
  h += "<div class=grid>" + fig(recall_vs_ratio_svg(in)) + fig(recall_vs_size_svg(in)) + "</div>\n";
  std::string maps;
  for (const EvalRun& r : in.eval_runs) maps += fig(niah_heatmap_svg(in, r));
  if (!maps.empty()) h += "<h3>S-NIAH by depth and context</h3>\n<div class=grid>" + maps + "</div>\n";
  const std::string pos = position_loss_svg(in);
  if (!pos.empty()) h += "<h3>Loss by position</h3>\n" + fig(pos);
  h += "<table><tr><th>run</th><th>arch</th><th>task</th><th>params</th><th>softmax share</th>"
       "<th>MQAR accuracy</th><th>S-NIAH recall</th></tr>\n";
  for (const EvalRun& r : in.eval_runs) {
    auto cell = [&](const char* eval) {
      const double v = recall_of(in, r, eval);
      return std::isfinite(v) ? fmt::format("{:.3f}", v) : std::string("-");
    };
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3g}</td><td>{}</td><td>{}</td></tr>\n",
                     r.id, xml_escape(r.arch), r.task, short_count(r.params), r.softmax_share,
                     cell("mqar"), cell("sniah"));
  }
  return h + "</table>\n";
}

}  // namespace scalelab::analysis
