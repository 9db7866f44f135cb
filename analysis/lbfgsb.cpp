#include "analysis/lbfgsb.h"

#include <cmath>
#include <cstring>
#include <vector>

// liblbfgsb 3.0 (Debian's liblbfgsb0) ships no header. The Fortran signature is
//   subroutine setulb(n, m, x, l, u, nbd, f, g, factr, pgtol, wa, iwa, task,
//                     iprint, csave, lsave, isave, dsave)
// with INTEGER = int32, LOGICAL = int32, task and csave CHARACTER*60; gfortran
// appends their lengths as hidden size_t arguments. Workspace sizes are the
// v3.0 ones from the package README: wa (2m+5)n + 11m^2 + 8m, iwa 3n,
// isave 44, dsave 29. The library keeps no static state (its .bss is empty),
// so concurrent calls from several threads are safe.
extern "C" void setulb_(const int* n, const int* m, double* x, const double* l, const double* u,
                        const int* nbd, double* f, double* g, const double* factr,
                        const double* pgtol, double* wa, int* iwa, char* task, const int* iprint,
                        char* csave, int* lsave, int* isave, double* dsave, size_t task_len,
                        size_t csave_len);

// setulb and its helpers call the Fortran timer (getrusage) several times per
// iteration, only to report CPU-time statistics that iprint < 0 never prints;
// the calls go through the PLT, so this definition replaces it. Measured: ~15%
// of an approach-3 grid was spent in those system calls.
extern "C" void timer_(double* ttime) { *ttime = 0.0; }

namespace scalelab::analysis {
namespace {

constexpr size_t kTaskLen = 60;

void set_task(char* task, const char* text) {
  std::memset(task, ' ', kTaskLen);
  std::memcpy(task, text, std::strlen(text));
}

bool task_is(const char* task, const char* prefix) {
  return std::strncmp(task, prefix, std::strlen(prefix)) == 0;
}

std::string trimmed(const char* task) {
  std::string s(task, kTaskLen);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

LbfgsbResult minimize_lbfgsb(const Objective& fun, const Eigen::VectorXd& x0,
                             const LbfgsbOptions& opt) {
  const int n = static_cast<int>(x0.size());
  const int m = opt.memory;
  LbfgsbResult r;
  r.x = x0;
  std::vector<double> lo(n, 0.0), hi(n, 0.0);
  std::vector<int> nbd(n, 0);
  for (int i = 0; i < n; ++i) {
    const bool has_lo = opt.lower.size() == n && std::isfinite(opt.lower[i]);
    const bool has_hi = opt.upper.size() == n && std::isfinite(opt.upper[i]);
    if (has_lo) lo[i] = opt.lower[i];
    if (has_hi) hi[i] = opt.upper[i];
    nbd[i] = has_lo && has_hi ? 2 : has_lo ? 1 : has_hi ? 3 : 0;
  }
  std::vector<double> wa(static_cast<size_t>((2 * m + 5) * n + 11 * m * m + 8 * m));
  std::vector<int> iwa(3 * static_cast<size_t>(n));
  char task[kTaskLen], csave[kTaskLen];
  int lsave[4] = {0, 0, 0, 0};
  int isave[44] = {0};
  double dsave[29] = {0};
  const int iprint = -1;
  double f = 0;
  Eigen::VectorXd g = Eigen::VectorXd::Zero(n);
  set_task(task, "START");
  std::memset(csave, ' ', kTaskLen);
  for (;;) {
    setulb_(&n, &m, r.x.data(), lo.data(), hi.data(), nbd.data(), &f, g.data(), &opt.factr,
            &opt.pgtol, wa.data(), iwa.data(), task, &iprint, csave, lsave, isave, dsave,
            kTaskLen, kTaskLen);
    if (task_is(task, "FG")) {
      if (r.evaluations >= opt.max_evals) {
        r.message = "evaluation limit reached";
        break;
      }
      f = fun(r.x, g);
      ++r.evaluations;
      if (!std::isfinite(f) || !g.allFinite()) {
        r.message = "objective or gradient not finite";
        r.f = f;
        return r;
      }
    } else if (task_is(task, "NEW_X")) {
      ++r.iterations;
      if (r.iterations >= opt.max_iter) {
        r.message = "iteration limit reached";
        break;
      }
    } else {
      r.converged = task_is(task, "CONV");
      r.message = trimmed(task);
      break;
    }
  }
  r.f = f;
  return r;
}

}  // namespace scalelab::analysis
