#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "transform/transforms.h"

using namespace pith;

namespace {
std::vector<float> gaussian(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n * d);
  for (auto& x : v) x = nd(g);
  return v;
}
double norm2(const float* x, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; ++j) s += static_cast<double>(x[j]) * x[j];
  return s;
}
}  // namespace

TEST(Transform, RandomOrthogonalIsOrthogonalAndSeeded) {
  for (size_t d : {1, 7, 64, 300}) {
    auto m = random_orthogonal(d, 5);
    for (size_t i = 0; i < d; i += std::max<size_t>(1, d / 13))
      for (size_t k = 0; k < d; k += std::max<size_t>(1, d / 11)) {
        double s = 0;
        for (size_t j = 0; j < d; ++j) s += static_cast<double>(m[i * d + j]) * m[k * d + j];
        EXPECT_NEAR(s, i == k ? 1.0 : 0.0, 1e-5) << d << " " << i << " " << k;
      }
    EXPECT_EQ(m, random_orthogonal(d, 5));
    if (d > 1) {
      EXPECT_NE(m, random_orthogonal(d, 6));
    }
  }
}

TEST(Transform, RotationPreservesNormsAndReverses) {
  const size_t d = 300, n = 50;
  auto t = make_rotation(d);
  EXPECT_EQ(t->spec(), "rot");
  auto x = gaussian(n, d, 1);
  t->train(x.data(), n, 7);
  std::vector<float> y(n * d), back(n * d);
  t->apply(x.data(), n, y.data());
  t->reverse(y.data(), n, back.data());
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(norm2(&y[i * d], d), norm2(&x[i * d], d), 1e-3 * norm2(&x[i * d], d));
  for (size_t i = 0; i < n * d; ++i) ASSERT_NEAR(back[i], x[i], 1e-4);
}

TEST(Transform, PcaKeepsLowRankDataAndOrdersComponents) {
  // 40-dimensional data on a 5-dimensional affine subspace, offset from the origin
  const size_t d = 40, r = 5, n = 2000;
  auto basis = gaussian(r, d, 2), coef = gaussian(n, r, 3);
  std::vector<float> x(n * d, 0.f);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) {
      float s = 3.f + 0.1f * static_cast<float>(j);
      for (size_t k = 0; k < r; ++k) s += coef[i * r + k] * basis[k * d + j] * static_cast<float>(k + 1);
      x[i * d + j] = s;
    }
  auto t = make_pca(d, r);
  EXPECT_EQ(t->spec(), "pca5");
  EXPECT_EQ(t->dim_out(), r);
  t->train(x.data(), n, 1);
  std::vector<float> y(n * r), back(n * d);
  t->apply(x.data(), n, y.data());
  t->reverse(y.data(), n, back.data());
  for (size_t i = 0; i < n * d; ++i) ASSERT_NEAR(back[i], x[i], 2e-3 * (1 + std::fabs(x[i])));
  // variance of the output coordinates decreases
  std::vector<double> var(r, 0.0), mean(r, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < r; ++k) mean[k] += y[i * r + k] / n;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < r; ++k) var[k] += (y[i * r + k] - mean[k]) * (y[i * r + k] - mean[k]);
  for (size_t k = 1; k < r; ++k) EXPECT_GE(var[k - 1], var[k]);

  ByteWriter w;
  t->save(w);
  auto t2 = make_pca(d, r);
  ByteReader rd(w.buf(), "pca.bin");
  t2->load(rd);
  std::vector<float> y2(n * r);
  t2->apply(x.data(), n, y2.data());
  EXPECT_EQ(y, y2);
  auto t3 = make_pca(d, r + 1);
  ByteReader rd3(w.buf(), "pca.bin");
  EXPECT_THROW(t3->load(rd3), Error);
}

TEST(Transform, TruncAndBadSizes) {
  auto t = make_trunc(6, 4);
  EXPECT_EQ(t->spec(), "trunc4");
  EXPECT_FALSE(t->needs_training());
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y(8), back(12);
  t->apply(x.data(), 2, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2, 3, 4, 7, 8, 9, 10}));
  t->reverse(y.data(), 2, back.data());
  EXPECT_EQ(back, (std::vector<float>{1, 2, 3, 4, 0, 0, 7, 8, 9, 10, 0, 0}));
  try {
    make_pca(300, 512);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "pca512: larger than dimension 300");
  }
  EXPECT_THROW(make_trunc(10, 0), Error);
  EXPECT_THROW(make_trunc(10, 11), Error);
}

TEST(Transform, RotationLoadRejectsWrongSize) {
  auto t = make_rotation(8);
  t->train(nullptr, 0, 1);
  ByteWriter w;
  t->save(w);
  auto t2 = make_rotation(9);
  ByteReader r(w.buf(), "rot.bin");
  EXPECT_THROW(t2->load(r), Error);
  ByteReader shortr(std::span<const uint8_t>(w.buf().data(), 20), "rot.bin");
  auto t3 = make_rotation(8);
  EXPECT_THROW(t3->load(shortr), Error);
}
