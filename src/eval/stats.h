#pragma once
// Is a difference between two codecs on the same queries real or noise?
#include <cstdint>
#include <span>

namespace pith {

struct PairedTest {
  double mean_diff = 0;  // mean of a[i] - b[i]
  double p_value = 1;    // two-sided
};

// Paired permutation (sign-flip) test: under the null hypothesis each per-query
// difference is as likely to have the opposite sign, so the p-value is the share
// of random sign assignments whose |mean| reaches the observed one ((hits + 1) /
// (rounds + 1), never 0). Seeded, so reports are reproducible.
PairedTest paired_permutation_test(std::span<const double> a, std::span<const double> b, int rounds,
                                   uint64_t seed);

}  // namespace pith
