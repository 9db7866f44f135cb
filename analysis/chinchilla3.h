// Chinchilla approach 3 (Hoffmann et al. 2022, sec. 3.3 and appendix D.2):
//   L(N, D) = E + A / N^alpha + B / D^beta
// fitted in the log-sum-exp form
//   log L = LSE(a - alpha log N, b - beta log D, e),  A = e^a, B = e^b, E = e^e
// by minimising the Huber loss (delta = 1e-3) of the log-loss residuals with
// L-BFGS(-B) from every start of a grid, keeping the best result. The default
// grid is the one of Besiroglu et al. 2024 ("Chinchilla scaling: a replication
// attempt"): alpha, beta in {0, .5, .., 2}, e in {-1, -.5, .., 1},
// a, b in {0, 5, .., 25}: 4,500 starts.
#pragma once

#include <Eigen/Core>

#include <vector>

#include "analysis/lbfgsb.h"

namespace scalelab::analysis {

struct NDPoint {
  double n = 0;     // parameters
  double d = 0;     // training tokens
  double loss = 0;  // final loss (nats/token)
};

struct Chinchilla3Params {
  double E = 0, A = 0, B = 0, alpha = 0, beta = 0;
  // Compute-optimal allocation for C = 6 N D (Hoffmann eq. 4):
  //   N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b, G = (alpha A / (beta B))^(1/(alpha+beta)),
  //   a = beta / (alpha + beta), b = alpha / (alpha + beta).
  double n_opt(double compute) const;
  double d_opt(double compute) const;
  double predict(double n, double d) const;
};

struct Chinchilla3Options {
  double huber_delta = 1e-3;
  // Each row of the grid is one start (a, b, e, alpha, beta). Empty: the default grid.
  Eigen::MatrixXd starts;
  int threads = 0;  // 0: std::thread::hardware_concurrency()
  // scipy's tolerances; memory 5 instead of scipy's 10: with 5 unknowns, 5
  // correction pairs already span the space, and the Fortran code's per-
  // iteration cost grows with m^2..m^3 (bench/fit: 35% less time, +8%
  // evaluations, same optimum to 4 digits; `bench_fit --memory 10` compares).
  LbfgsbOptions lbfgsb = [] {
    LbfgsbOptions o;
    o.memory = 5;
    return o;
  }();
};

struct Chinchilla3Fit {
  Chinchilla3Params params;
  Eigen::Matrix<double, 5, 1> x;  // (a, b, e, alpha, beta) at the optimum
  double objective = 0;           // Huber sum at the optimum
  int starts = 0;                 // grid size
  int converged_starts = 0;       // starts whose L-BFGS-B run converged
  long evaluations = 0;           // objective evaluations over all starts
  Eigen::Matrix<double, 5, 1> best_start;
};

// The 4,500-start grid described above; rows are (a, b, e, alpha, beta).
Eigen::MatrixXd default_chinchilla3_grid();

// Huber objective and its gradient at x = (a, b, e, alpha, beta) over points
// given as log N, log D, log L columns.
double chinchilla3_objective(const Eigen::ArrayXd& log_n, const Eigen::ArrayXd& log_d,
                             const Eigen::ArrayXd& log_l, double delta,
                             const Eigen::VectorXd& x, Eigen::VectorXd& grad);

// Fits the points. Throws std::invalid_argument when they cannot determine the
// five parameters (fewer than 5 points, fewer than 2 distinct N or D,
// non-finite or non-positive values) and std::runtime_error when no start
// produced a finite optimum.
Chinchilla3Fit fit_chinchilla3(const std::vector<NDPoint>& points,
                               const Chinchilla3Options& opt = {});

}  // namespace scalelab::analysis
