#include "eval/ratedist.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "common/error.h"
#include "common/parallel.h"

namespace pith {

double shannon_mse(double bits_per_dim) { return std::exp2(-2.0 * bits_per_dim); }

double gap_db(double mse, double reference) { return 10.0 * std::log10(mse / reference); }

std::vector<double> covariance_eigenvalues(const float* x, size_t n, size_t d, int threads) {
  if (n < 2) fail_msg("covariance of {} rows: needs at least 2", n);
  using Mat = Eigen::MatrixXd;
  constexpr size_t kRows = 4096;
  const size_t blocks = (n + kRows - 1) / kRows;
  // Rows are shifted by the first row before accumulating so that large common
  // offsets (SIFT's all-positive values) do not cancel catastrophically.
  Eigen::VectorXd shift = Eigen::Map<const Eigen::VectorXf>(x, d).cast<double>();
  std::vector<Mat> gram(blocks, Mat::Zero(d, d));
  std::vector<Eigen::VectorXd> sums(blocks, Eigen::VectorXd::Zero(d));
  parallel_for(blocks, threads, [&](size_t b) {
    size_t lo = b * kRows, m = std::min(n, lo + kRows) - lo;
    using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Mat c = Eigen::Map<const RowMatF>(x + lo * d, m, d).cast<double>();
    c.rowwise() -= shift.transpose();
    gram[b].selfadjointView<Eigen::Lower>().rankUpdate(c.transpose());
    sums[b] = c.colwise().sum().transpose();
  });
  Mat g = Mat::Zero(d, d);
  Eigen::VectorXd s = Eigen::VectorXd::Zero(d);
  for (size_t b = 0; b < blocks; ++b) {
    g += gram[b];
    s += sums[b];
  }
  const double nn = static_cast<double>(n);
  Mat cov = g.selfadjointView<Eigen::Lower>();
  cov = (cov - s * s.transpose() / nn) / (nn - 1);
  Eigen::SelfAdjointEigenSolver<Mat> es(cov, Eigen::EigenvaluesOnly);
  std::vector<double> ev(es.eigenvalues().data(), es.eigenvalues().data() + d);
  for (double& v : ev) v = std::max(v, 0.0);  // rounding leaves tiny negatives
  std::sort(ev.rbegin(), ev.rend());
  return ev;
}

WaterFill reverse_waterfill(std::span<const double> eigenvalues, double total_bits) {
  WaterFill w;
  if (eigenvalues.empty()) return w;
  const double dims = static_cast<double>(eigenvalues.size());
  double top = *std::max_element(eigenvalues.begin(), eigenvalues.end());
  auto distortion = [&](double theta) {
    double s = 0;
    for (double l : eigenvalues) s += std::min(theta, l);
    return s;
  };
  if (total_bits <= 0 || top <= 0) {
    w.theta = top;
    w.mse_per_dim = distortion(top) / dims;
    return w;
  }
  auto rate = [&](double theta) {
    double r = 0;
    for (double l : eigenvalues)
      if (l > theta) r += 0.5 * std::log2(l / theta);
    return r;
  };
  // R(θ) falls from +inf to 0 as θ rises to the largest eigenvalue, and
  // R(top · 2^(-2·total)) >= total, so the root lies in between. Bisect log θ.
  double lo = std::log2(top) - 2.0 * total_bits, hi = std::log2(top);
  for (int it = 0; it < 200 && hi - lo > 1e-13 * std::max(1.0, std::fabs(hi)); ++it) {
    double mid = 0.5 * (lo + hi);
    if (rate(std::exp2(mid)) > total_bits)
      lo = mid;
    else
      hi = mid;
  }
  w.theta = std::exp2(0.5 * (lo + hi));
  w.mse_per_dim = distortion(w.theta) / dims;
  return w;
}

}  // namespace pith
