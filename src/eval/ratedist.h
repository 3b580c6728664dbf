#pragma once
// Rate–distortion references for lossy vector codes. All distortions here are mean
// squared error per dimension, all rates bits per dimension (of the input).
#include <cstddef>
#include <span>
#include <vector>

namespace pith {

// Shannon's distortion–rate function of an i.i.d. standard Gaussian source: the
// smallest MSE per dimension any code of R bits per dimension can reach, 2^(-2R).
double shannon_mse(double bits_per_dim);

// 10·log10(mse / reference): how far above (> 0) or below (< 0) a reference a
// measured distortion lands.
double gap_db(double mse, double reference);

// Eigenvalues of the covariance of n rows of d dimensions, largest first
// (accumulated in double; threads split the rows).
std::vector<double> covariance_eigenvalues(const float* x, size_t n, size_t d, int threads);

// Reverse water-filling over independent Gaussian components of variances λ_i at a
// total rate of `total_bits`: D(θ) = Σ min(θ, λ_i), R(θ) = Σ max(0, ½·log2(λ_i/θ)),
// θ found by bisection so that R(θ) = total_bits. For a source with covariance
// eigenvalues λ_i this is the distortion of the Gaussian with that covariance: the
// hardest source of that covariance, so an upper bound on what the best code for
// the real data can reach, not a lower bound.
struct WaterFill {
  double mse_per_dim = 0;  // D / (number of eigenvalues)
  double theta = 0;
};
WaterFill reverse_waterfill(std::span<const double> eigenvalues, double total_bits);

}  // namespace pith
