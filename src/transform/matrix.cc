#include <Eigen/Dense>
#include <cmath>
#include <numbers>

#include "transform/transforms.h"

namespace pith {

namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat>;

// splitmix64: a tiny seeded generator whose stream is identical on every
// platform (std::normal_distribution is not), so a seed names one rotation.
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double gaussian() {  // Box-Muller, one value per call keeps the stream simple
    return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * std::numbers::pi * uniform());
  }
};
}  // namespace

std::vector<float> random_orthogonal(size_t d, uint64_t seed) {
  SplitMix rng{seed};
  Eigen::MatrixXd g(d, d);
  for (size_t i = 0; i < d; ++i)
    for (size_t j = 0; j < d; ++j) g(i, j) = rng.gaussian();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ();
  const Eigen::MatrixXd r = qr.matrixQR().triangularView<Eigen::Upper>();
  for (size_t j = 0; j < d; ++j)
    if (r(j, j) < 0) q.col(j) = -q.col(j);
  std::vector<float> out(d * d);
  for (size_t i = 0; i < d; ++i)
    for (size_t j = 0; j < d; ++j) out[i * d + j] = static_cast<float>(q(i, j));
  return out;
}

void apply_matrix(const float* m, size_t rows, size_t cols, const float* x, size_t n, float* y) {
  ConstMap mm(m, rows, cols), xm(x, n, cols);
  Eigen::Map<RowMat> ym(y, n, rows);
  ym.noalias() = xm * mm.transpose();
}

void apply_matrix_transposed(const float* m, size_t rows, size_t cols, const float* y, size_t n,
                             float* x) {
  ConstMap mm(m, rows, cols), ym(y, n, rows);
  Eigen::Map<RowMat> xm(x, n, cols);
  xm.noalias() = ym * mm;
}

}  // namespace pith
