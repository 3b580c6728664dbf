#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"
#include "eval/groundtruth.h"
#include "eval/ratedist.h"
#include "eval/stats.h"

namespace pith {
namespace {

TEST(EvalRecall, HandComputedCase) {
  // Query 0 finds 2 of its 3 true neighbours in its top 3, query 1 finds 1 of 3;
  // at k = 1 query 0 is right (7), query 1 is not (5 vs 4).
  std::vector<int64_t> truth = {7, 3, 9, 4, 8, 1};
  std::vector<int64_t> result = {7, 9, 2, 5, 6, 8};
  auto r3 = recall_per_query(result, 3, truth, 3, 3);
  ASSERT_EQ(r3.size(), 2u);
  EXPECT_DOUBLE_EQ(r3[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(r3[1], 1.0 / 3);
  EXPECT_DOUBLE_EQ(mean(r3), 0.5);
  auto r1 = recall_per_query(result, 3, truth, 3, 1);
  EXPECT_DOUBLE_EQ(r1[0], 1.0);
  EXPECT_DOUBLE_EQ(r1[1], 0.0);
  EXPECT_THROW(recall_per_query(result, 3, truth, 3, 4), Error);
}

TEST(EvalRecall, PaddedTruthCountsOnlyRealNeighbours) {
  std::vector<int64_t> truth = {2, -1};
  std::vector<int64_t> result = {2, -1};
  EXPECT_DOUBLE_EQ(recall_per_query(result, 2, truth, 2, 2)[0], 1.0);
}

// Brute force in double with an explicit sort: the reference exact_knn must match.
std::vector<int64_t> naive_knn(const std::vector<float>& x, size_t n, const std::vector<float>& q,
                               size_t nq, size_t d, Metric m, size_t k) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, int64_t>> all;
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t t = 0; t < d; ++t) {
        double a = q[i * d + t], b = x[j * d + t];
        s += m == Metric::L2 ? (a - b) * (a - b) : -a * b;
      }
      all.emplace_back(s, static_cast<int64_t>(j));
    }
    std::sort(all.begin(), all.end());
    for (size_t t = 0; t < k; ++t) out.push_back(t < n ? all[t].second : -1);
  }
  return out;
}

TEST(EvalExactKnn, MatchesNaiveSearch) {
  // Integer-valued data keeps float sums exact, so ties are real and must go to
  // the lower row; n spans several base blocks.
  const size_t n = 5000, nq = 70, d = 5, k = 12;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> v(0, 4);
  std::vector<float> x(n * d), q(nq * d);
  for (auto& f : x) f = static_cast<float>(v(rng));
  for (auto& f : q) f = static_cast<float>(v(rng));
  for (Metric m : {Metric::L2, Metric::IP}) {
    auto got = exact_knn(x.data(), n, q.data(), nq, d, m, k, 2);
    auto want = naive_knn(x, n, q, nq, d, m, k);
    EXPECT_EQ(got, want) << metric_name(m);
  }
  auto padded = exact_knn(x.data(), 3, q.data(), 1, d, Metric::L2, 5, 1);
  EXPECT_EQ(padded[3], -1);
  EXPECT_EQ(padded[4], -1);
}

std::string write_temp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / name;
  std::ofstream(p) << text;
  return p.string();
}

TEST(EvalQrels, ReadsBothLayoutsAndCountsUnknownIds) {
  auto path = write_temp("pith_eval_qrels.tsv",
                         "# comment\n0 0 5 2\n0\t7\t1\n1 0 3 1\n\n1 0 99 1\n4 0 1 1\n");
  auto q = read_qrels(path, 2, 10, false);
  EXPECT_EQ(q.lines, 5u);
  EXPECT_EQ(q.unknown, 2u);  // docid 99 and query 4
  ASSERT_EQ(q.by_query[0].size(), 2u);
  EXPECT_EQ(q.by_query[0][1], (std::pair<int64_t, double>{7, 1.0}));
  try {
    read_qrels(path, 2, 10, true);
    FAIL() << "strict mode accepted an unknown docid";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown docid 99"), std::string::npos) << e.what();
  }
  auto bad = write_temp("pith_eval_qrels_bad.tsv", "0 x 1\n");
  EXPECT_THROW(read_qrels(bad, 2, 10, false), Error);
}

TEST(EvalQrels, NdcgAndMrrByHand) {
  Qrels q;
  q.by_query = {{{5, 2.0}, {7, 1.0}}, {{1, 0.0}}};  // query 1 has nothing relevant: skipped
  std::vector<int64_t> result = {3, 7, 5, 1, 2, 3};
  auto rq = rank_quality(q, result, 3, 3);
  EXPECT_EQ(rq.queries, 1u);
  double dcg = 1.0 / std::log2(3.0) + 2.0 / std::log2(4.0);
  double idcg = 2.0 + 1.0 / std::log2(3.0);
  EXPECT_NEAR(rq.ndcg, dcg / idcg, 1e-12);
  EXPECT_DOUBLE_EQ(rq.mrr, 0.5);
}

TEST(EvalRateDistortion, WaterFillMatchesClosedForm) {
  // All components above θ: θ = (Π λ)^(1/d) · 2^(-2R/d), D = d·θ.
  std::vector<double> lam = {4.0, 1.0, 0.25};
  auto w = reverse_waterfill(lam, 6.0);
  EXPECT_NEAR(w.theta, 1.0 / 16, 1e-10);
  EXPECT_NEAR(w.mse_per_dim, 1.0 / 16, 1e-10);
  // The smallest component falls below the water: it gets no bits and costs λ.
  std::vector<double> lam2 = {4.0, 1.0, 1.0 / 64};
  auto w2 = reverse_waterfill(lam2, 2.0);
  EXPECT_NEAR(w2.theta, 0.5, 1e-10);
  EXPECT_NEAR(w2.mse_per_dim, (0.5 + 0.5 + 1.0 / 64) / 3, 1e-10);
  EXPECT_NEAR(reverse_waterfill(lam2, 0).mse_per_dim, (4.0 + 1.0 + 1.0 / 64) / 3, 1e-12);
  // Equal eigenvalues reduce to Shannon's bound.
  std::vector<double> ones(8, 1.0);
  EXPECT_NEAR(reverse_waterfill(ones, 8 * 1.5).mse_per_dim, shannon_mse(1.5), 1e-10);
}

TEST(EvalRateDistortion, EigenvaluesOfSampledDiagonalGaussian) {
  const size_t n = 20000, d = 4;
  const double sd[d] = {3.0, 1.0, 0.5, 0.1};
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) x[i * d + j] = 100.0f + static_cast<float>(sd[j]) * g(rng);
  auto ev = covariance_eigenvalues(x.data(), n, d, 2);
  ASSERT_EQ(ev.size(), d);
  for (size_t j = 0; j < d; ++j) EXPECT_NEAR(ev[j] / (sd[j] * sd[j]), 1.0, 0.05) << j;
  std::vector<double> exact = {9.0, 1.0, 0.25, 0.01};
  double r = 8.0;
  EXPECT_NEAR(reverse_waterfill(ev, r).mse_per_dim / reverse_waterfill(exact, r).mse_per_dim, 1.0, 0.05);
}

TEST(EvalStats, PermutationTestSeesRealDifferencesOnly) {
  std::vector<double> a(200), b(200);
  std::mt19937 rng(5);
  std::normal_distribution<double> g;
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = g(rng);
    b[i] = a[i] + 0.01 * g(rng);
  }
  auto same = paired_permutation_test(a, a, 999, 1);
  EXPECT_DOUBLE_EQ(same.p_value, 1.0);
  auto noise = paired_permutation_test(a, b, 999, 1);
  EXPECT_GT(noise.p_value, 0.01);
  for (auto& v : b) v -= 0.01;  // a consistent shift of one noise unit
  auto shifted = paired_permutation_test(b, a, 999, 1);
  EXPECT_LT(shifted.p_value, 0.01);
  EXPECT_NEAR(shifted.mean_diff, -0.01, 0.003);
}

}  // namespace
}  // namespace pith
