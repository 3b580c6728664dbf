#include "eval/stats.h"

#include <cmath>
#include <random>
#include <vector>

#include "common/error.h"

namespace pith {

PairedTest paired_permutation_test(std::span<const double> a, std::span<const double> b, int rounds,
                                   uint64_t seed) {
  if (a.size() != b.size()) fail_msg("paired test: {} against {} values", a.size(), b.size());
  PairedTest t;
  const size_t n = a.size();
  if (n == 0) return t;
  std::vector<double> d(n);
  double obs = 0;
  for (size_t i = 0; i < n; ++i) {
    d[i] = a[i] - b[i];
    obs += d[i];
  }
  t.mean_diff = obs / static_cast<double>(n);
  obs = std::fabs(obs);
  // Sums of the same values in another order differ by rounding only; without
  // the tolerance an exact tie (e.g. all differences zero) could miss itself.
  double tol = 1e-9 * (1.0 + obs);
  std::mt19937_64 rng(seed);
  long hits = 0;
  for (int r = 0; r < rounds; ++r) {
    double s = 0;
    uint64_t bits = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i % 64 == 0) bits = rng();
      s += (bits & 1) ? d[i] : -d[i];
      bits >>= 1;
    }
    if (std::fabs(s) >= obs - tol) ++hits;
  }
  t.p_value = static_cast<double>(hits + 1) / static_cast<double>(rounds + 1);
  return t;
}

}  // namespace pith
