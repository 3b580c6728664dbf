// k-means, product quantization (pqMx8, pqMx4fs fast scan) and OPQ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "quantize/kmeans.h"
#include "quantize/pq.h"
#include "quantize/pq_kernels.h"
#include "read/npy.h"
#include "transform/opq.h"

using namespace pith;

namespace {

std::vector<float> gaussian(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n * d);
  for (float& f : v) f = nd(g);
  return v;
}

// Gaussian data mixed by a random matrix with decaying column scales: strong
// correlations across sub-spaces, which a plain PQ cannot exploit and OPQ can.
std::vector<float> correlated(size_t n, size_t d, uint64_t seed) {
  std::vector<float> z = gaussian(n, d, seed), a = gaussian(d, d, seed + 1), x(n * d, 0.0f);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < d; ++k) {
      float zk = z[i * d + k] * std::exp(-0.15f * static_cast<float>(k));
      for (size_t j = 0; j < d; ++j) x[i * d + j] += zk * a[k * d + j];
    }
  return x;
}

double mse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s / static_cast<double>(a.size());
}

double mean_square(const std::vector<float>& a) {
  double s = 0;
  for (float v : a) s += double(v) * v;
  return s / static_cast<double>(a.size());
}

// Relative reconstruction error of a trained PQ codec on x.
double pq_relative_mse(VectorCodec& c, const std::vector<float>& x, size_t n) {
  std::vector<uint8_t> codes(n * c.code_size());
  std::vector<float> y(x.size());
  c.encode(x.data(), n, codes.data());
  c.decode(codes.data(), n, y.data());
  return mse(x, y) / mean_square(x);
}

std::vector<size_t> topk(const float* dist, size_t n, size_t k) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](size_t a, size_t b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
  idx.resize(k);
  return idx;
}

std::vector<float> exact_dist(const float* q, const float* x, size_t n, size_t d, Metric m) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t t = 0; t < d; ++t)
      s += m == Metric::L2 ? (double(q[t]) - x[i * d + t]) * (double(q[t]) - x[i * d + t]) : -double(q[t]) * x[i * d + t];
    out[i] = static_cast<float>(s);
  }
  return out;
}

std::vector<SimdLevel> levels() {
  std::vector<SimdLevel> l{SimdLevel::Scalar};
  if (simd_level() >= SimdLevel::AVX2) l.push_back(SimdLevel::AVX2);
  if (simd_level() >= SimdLevel::AVX512) l.push_back(SimdLevel::AVX512);
  return l;
}

std::string error_of(size_t dim, size_t m, int nbits, bool fs) {
  try {
    make_pq(dim, m, nbits, fs);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(KMeans, LloydReducesInertia) {
  const size_t n = 4000, d = 8, k = 32;
  std::vector<float> x = gaussian(n, d, 1);
  std::vector<float> c = kmeans(x.data(), n, d, k, 0, 7, 1);  // k-means++ seeding only
  double prev = kmeans_refine(x.data(), n, d, k, c.data(), 1, 1);
  for (int it = 0; it < 5; ++it) {
    double now = kmeans_refine(x.data(), n, d, k, c.data(), 1, 2);
    EXPECT_LE(now, prev + 1e-9) << "iteration " << it;
    prev = now;
  }
  // Converged k=32 on 8-d unit Gaussians: well below the variance (8 per point).
  EXPECT_LT(prev, 8 * 0.6);
}

TEST(KMeans, FindsSeparatedClustersAndAssigns) {
  const size_t d = 4, k = 5, per = 200;
  std::vector<float> centres = gaussian(k, d, 3), x;
  for (float& v : centres) v *= 100;
  std::vector<float> noise = gaussian(k * per, d, 4);
  for (size_t i = 0; i < k * per; ++i)
    for (size_t t = 0; t < d; ++t) x.push_back(centres[(i % k) * d + t] + noise[i * d + t]);
  std::vector<float> c = kmeans(x.data(), k * per, d, k, 10, 11, 2);
  std::vector<uint32_t> a(k * per);
  assign_nearest(x.data(), k * per, c.data(), k, d, a.data(), 2);
  // Points of one true cluster share one centroid, and clusters do not share.
  for (size_t i = k; i < k * per; ++i) EXPECT_EQ(a[i], a[i % k]);
  std::vector<uint32_t> firsts(a.begin(), a.begin() + k);
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(std::unique(firsts.begin(), firsts.end()), firsts.end());
}

TEST(KMeans, RepairsEmptyClustersAndChecksSizes) {
  // 40 distinct points, many duplicated: no centroid may stay unused after the splits.
  const size_t d = 2, n = 400, k = 40;
  std::vector<float> base = gaussian(k, d, 5), x;
  for (size_t i = 0; i < n; ++i) x.insert(x.end(), base.begin() + (i % k) * d, base.begin() + (i % k + 1) * d);
  std::vector<float> c = kmeans(x.data(), n, d, k, 20, 9, 1);
  std::vector<uint32_t> a(n);
  assign_nearest(x.data(), n, c.data(), k, d, a.data(), 1);
  std::vector<uint32_t> used(a.begin(), a.end());
  std::sort(used.begin(), used.end());
  EXPECT_EQ(std::unique(used.begin(), used.end()) - used.begin(), static_cast<std::ptrdiff_t>(k));
  EXPECT_THROW(kmeans(x.data(), 10, d, 20, 5, 1, 1), Error);
}

TEST(PQ, FactoryErrors) {
  EXPECT_NE(error_of(300, 48, 8, false).find("48 does not divide dimension 300"), std::string::npos);
  EXPECT_NE(error_of(64, 8, 4, false).find("pq8x4fs"), std::string::npos);
  EXPECT_THROW(make_pq(64, 8, 8, true), Error);
  EXPECT_THROW(make_pq(64, 8, 6, false), Error);
  EXPECT_THROW(make_pq(512, 512, 4, true), Error);
  EXPECT_EQ(make_pq(128, 16, 8, false)->spec(), "pq16x8");
  EXPECT_EQ(make_pq(128, 64, 4, true)->spec(), "pq64x4fs");
  EXPECT_EQ(make_pq(128, 64, 4, true)->code_size(), 32u);
  EXPECT_EQ(make_pq(300, 75, 4, true)->code_size(), 38u);
  EXPECT_EQ(make_pq(128, 64, 4, true)->block_size(), 32u);
  std::vector<float> q(128);
  EXPECT_THROW(make_pq(128, 16, 8, false)->scanner(q.data(), Metric::L2), Error);
  std::vector<float> few = gaussian(100, 128, 1);
  EXPECT_THROW(make_pq(128, 16, 8, false)->train(few.data(), 100, Metric::L2, 1), Error);
}

// Documented bounds (docs/CODECS.md): on unit Gaussian data of 32 dimensions the
// relative MSE is below 0.20 for pq8x8 (2 bits per dimension) and falls with M.
TEST(PQ, RoundTripErrorFallsWithM) {
  const size_t n = 6000, d = 32;
  std::vector<float> x = gaussian(n, d, 21);
  double prev = 1.0;
  for (size_t m : {4, 8, 16}) {
    auto c = make_pq(d, m, 8, false);
    c->train(x.data(), n, Metric::L2, 3);
    double r = pq_relative_mse(*c, x, n);
    EXPECT_LT(r, prev) << "pq" << m << "x8";
    prev = r;
    if (m == 8) {
      EXPECT_LT(r, 0.20);
    }
  }
  auto fs = make_pq(d, 16, 4, true);
  fs->train(x.data(), n, Metric::L2, 3);
  EXPECT_LT(pq_relative_mse(*fs, x, n), 0.30);  // 2 bits per dimension as well, 16 centroids of 2-d
}

TEST(PQ, TableDistancesMatchDecodedVectors) {
  const size_t n = 1000, d = 24;
  std::vector<float> x = gaussian(n, d, 31), q = gaussian(1, d, 32);
  for (bool fs : {false, true}) {
    auto c = make_pq(d, fs ? 12 : 6, fs ? 4 : 8, fs);
    c->train(x.data(), n, Metric::L2, 5);
    std::vector<uint8_t> rows(n * c->code_size()), stored(((n + 31) / 32) * 32 * c->code_size());
    std::vector<float> y(n * d), dist(n);
    c->encode(x.data(), n, rows.data());
    c->decode(rows.data(), n, y.data());
    c->pack(rows.data(), n, stored.data());
    for (Metric m : {Metric::L2, Metric::IP}) {
      c->scanner(q.data(), m)->scan(stored.data(), n, dist.data());
      std::vector<float> want = exact_dist(q.data(), y.data(), n, d, m);
      // 8-bit: float rounding only. Fast scan: each of the M uint8 table entries is
      // off by at most half a quantization step, range/127 · 1/2.
      double tol = 0;
      if (fs) {
        float lo = *std::min_element(want.begin(), want.end()), hi = *std::max_element(want.begin(), want.end());
        tol = 12 * 0.5 * (hi - lo) / 127.0 + 1e-4;
      }
      for (size_t i = 0; i < n; ++i)
        ASSERT_NEAR(dist[i], want[i], tol + 1e-4 * (1 + std::fabs(want[i]))) << c->spec() << " row " << i;
    }
  }
}

TEST(PQ, FastScanPackUnpackAndPartialBlocks) {
  const size_t d = 20, n = 77;  // 10 sub-quantizers: odd pair count
  std::vector<float> x = gaussian(300, d, 41), q = gaussian(1, d, 42);
  auto c = make_pq(d, 10, 4, true);
  c->train(x.data(), 300, Metric::L2, 1);
  size_t cs = c->code_size();
  std::vector<uint8_t> rows(n * cs), stored(96 * cs), back(n * cs);
  c->encode(x.data(), n, rows.data());
  c->pack(rows.data(), n, stored.data());
  c->unpack(stored.data(), 0, n, back.data());
  EXPECT_EQ(rows, back);
  c->unpack(stored.data(), 40, 30, back.data());
  EXPECT_TRUE(std::equal(back.begin(), back.begin() + 30 * cs, rows.begin() + 40 * cs));
  // Scanning n rows equals scanning more and keeping the first n.
  std::vector<float> part(n), whole(96);
  auto s = c->scanner(q.data(), Metric::L2);
  s->scan(stored.data(), n, part.data());
  s->scan(stored.data(), 96, whole.data());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin()));
}

TEST(PQKernels, FastScanLevelsEqualScalar) {
  std::mt19937_64 g(51);
  for (size_t npairs : {1, 2, 3, 8, 31, 32, 64, 128}) {
    const size_t nblocks = 5;
    std::vector<uint8_t> codes(nblocks * npairs * kFsBlock), lut(fs_lut_bytes(npairs));
    for (auto& b : codes) b = static_cast<uint8_t>(g());
    for (size_t j = 0; j < 2 * npairs; ++j)
      for (size_t c = 0; c < 16; ++c) lut[fs_lut_offset(j, c)] = lut[fs_lut_offset(j, c) + 16] = static_cast<uint8_t>(g() % 128);
    std::vector<float> want(nblocks * kFsBlock), got(nblocks * kFsBlock);
    pq_kernels(SimdLevel::Scalar).scan4fs(codes.data(), nblocks, npairs, lut.data(), 0.37f, -11.5f, want.data());
    for (SimdLevel l : levels()) {
      pq_kernels(l).scan4fs(codes.data(), nblocks, npairs, lut.data(), 0.37f, -11.5f, got.data());
      EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
          << simd_name(l) << " npairs " << npairs;
    }
  }
}

// The thresholded scan keeps exactly the vectors whose sum is at or below each
// query's limit, with scan4fs's distances, at every level and group size. Small
// tables and limits among the smallest sums are what top-k search gives the
// kernels that filter by bounds before summing exactly (AVX-512).
TEST(PQKernels, FastScanThresholdLevelsEqualScalar) {
  std::mt19937_64 g(53);
  for (unsigned range : {128u, 8u}) {
    for (size_t npairs : {1, 2, 3, 8, 31, 32, 64, 128}) {
      const size_t nblocks = 5, nv = nblocks * kFsBlock;
      std::vector<uint8_t> codes(nblocks * npairs * kFsBlock);
      for (auto& b : codes) b = static_cast<uint8_t>(g());
      std::vector<std::vector<uint8_t>> tables(kFsMaxQueries, std::vector<uint8_t>(fs_lut_bytes(npairs)));
      const uint8_t* luts[kFsMaxQueries];
      float scale[kFsMaxQueries], bias[kFsMaxQueries];
      uint16_t thr[kFsMaxQueries];
      std::vector<std::vector<float>> sums(kFsMaxQueries, std::vector<float>(nv)), dists = sums;
      for (size_t q = 0; q < kFsMaxQueries; ++q) {
        for (size_t j = 0; j < 2 * npairs; ++j)
          for (size_t c = 0; c < 16; ++c)
            tables[q][fs_lut_offset(j, c)] = tables[q][fs_lut_offset(j, c) + 16] = static_cast<uint8_t>(g() % range);
        luts[q] = tables[q].data();
        scale[q] = 0.37f + 0.1f * float(q);
        bias[q] = -11.5f * float(q);
        // Exact sums (scale 1, bias 0) and the distances scan4fs gives.
        pq_kernels(SimdLevel::Scalar).scan4fs(codes.data(), nblocks, npairs, luts[q], 1.0f, 0.0f, sums[q].data());
        pq_kernels(SimdLevel::Scalar).scan4fs(codes.data(), nblocks, npairs, luts[q], scale[q], bias[q],
                                              dists[q].data());
        // Limits: the smallest sum / a few / none passes / a tenth / the median / just
        // below the smallest / all pass / every sum passes (no limit, last: a call
        // with it sums exactly).
        std::vector<float> sorted = sums[q];
        std::sort(sorted.begin(), sorted.end());
        auto at = [&](size_t i) { return static_cast<uint16_t>(sorted[i]); };
        const uint16_t below = at(0) > 0 ? static_cast<uint16_t>(at(0) - 1) : 0;
        const uint16_t choice[] = {at(0), at(3), 0, at(nv / 10), at(nv / 2), below, at(nv - 1), 65535};
        static_assert(sizeof(choice) / sizeof(choice[0]) == kFsMaxQueries);
        thr[q] = choice[q];
      }
      for (size_t nq = 1; nq <= kFsMaxQueries; ++nq) {
        std::vector<uint32_t> want_idx(nq * nv), got_idx(nq * nv);
        std::vector<float> want_d(nq * nv), got_d(nq * nv);
        size_t want_c[kFsMaxQueries], got_c[kFsMaxQueries];
        pq_kernels(SimdLevel::Scalar)
            .scan4fs_le(codes.data(), nblocks, npairs, luts, nq, thr, scale, bias, want_idx.data(), want_d.data(), want_c);
        for (size_t q = 0; q < nq; ++q) {
          std::vector<uint32_t> expect;
          for (size_t i = 0; i < nv; ++i)
            if (sums[q][i] <= thr[q]) expect.push_back(static_cast<uint32_t>(i));
          ASSERT_EQ(want_c[q], expect.size()) << "range " << range << " npairs " << npairs << " query " << q;
          for (size_t r = 0; r < expect.size(); ++r) {
            EXPECT_EQ(want_idx[q * nv + r], expect[r]);
            EXPECT_EQ(want_d[q * nv + r], dists[q][expect[r]]);
          }
        }
        for (SimdLevel l : levels()) {
          pq_kernels(l).scan4fs_le(codes.data(), nblocks, npairs, luts, nq, thr, scale, bias, got_idx.data(),
                                   got_d.data(), got_c);
          for (size_t q = 0; q < nq; ++q) {
            ASSERT_EQ(want_c[q], got_c[q]) << simd_name(l) << " range " << range << " npairs " << npairs << " nq " << nq
                                           << " query " << q;
            EXPECT_TRUE(std::equal(want_idx.begin() + q * nv, want_idx.begin() + q * nv + want_c[q], got_idx.begin() + q * nv));
            EXPECT_EQ(0, std::memcmp(&want_d[q * nv], &got_d[q * nv], want_c[q] * sizeof(float))) << simd_name(l);
          }
        }
      }
    }
  }
}

TEST(PQKernels, FastScanScalarSumsTables) {
  // One block, one pair: vector v has codes (v % 16, 15 - v % 16).
  std::vector<uint8_t> codes(kFsBlock), lut(fs_lut_bytes(1));
  for (size_t v = 0; v < kFsBlock; ++v) codes[fs_byte_of(v)] = static_cast<uint8_t>((v % 16) | ((15 - v % 16) << 4));
  for (size_t c = 0; c < 16; ++c) {
    lut[fs_lut_offset(0, c)] = static_cast<uint8_t>(c);
    lut[fs_lut_offset(1, c)] = static_cast<uint8_t>(100 + c);
  }
  std::vector<float> dist(kFsBlock);
  pq_kernels(SimdLevel::Scalar).scan4fs(codes.data(), 1, 1, lut.data(), 2.0f, 1.0f, dist.data());
  for (size_t v = 0; v < kFsBlock; ++v) EXPECT_EQ(dist[v], 2.0f * float(v % 16 + 100 + 15 - v % 16) + 1.0f);
}

TEST(PQKernels, Scan8LevelsEqualScalar) {
  std::mt19937_64 g(61);
  const size_t m = 12, n = 103;
  std::vector<uint8_t> codes(n * m);
  for (auto& b : codes) b = static_cast<uint8_t>(g());
  std::vector<float> lut = gaussian(m, 256, 62), want(n), got(n);
  pq_kernels(SimdLevel::Scalar).scan8(lut.data(), m, codes.data(), n, want.data());
  for (size_t i = 0; i < n; ++i) {
    float s = 0;
    for (size_t j = 0; j < m; ++j) s += lut[j * 256 + codes[i * m + j]];
    ASSERT_EQ(want[i], s);
  }
  for (SimdLevel l : levels()) {
    pq_kernels(l).scan8(lut.data(), m, codes.data(), n, got.data());
    EXPECT_EQ(want, got) << simd_name(l);
  }
}

TEST(PQKernels, NearestLevelsEqualScalar) {
  std::mt19937_64 g(65);
  for (size_t k : {1, 7, 16, 17, 256, 1000}) {
    const size_t rows = 40;
    std::vector<float> dots = gaussian(rows, k, 66), cnorm = gaussian(1, k, 67);
    // Ties: repeated values inside rows, and a row with one value throughout.
    for (size_t r = 0; r < rows; r += 3)
      for (size_t j = k / 2; j < k; ++j) dots[r * k + j] = dots[r * k + j - k / 2];
    for (size_t j = 0; j < k; ++j) {
      cnorm[j] = std::round(cnorm[j] * 4);
      dots[j] = 0.5f;
      if (j % 5 == 0) dots[rows / 2 * k + j] = std::numeric_limits<float>::quiet_NaN();
    }
    std::vector<uint32_t> want(rows), got(rows);
    std::vector<float> wbest(rows), gbest(rows);
    pq_kernels(SimdLevel::Scalar).nearest(dots.data(), rows, k, cnorm.data(), want.data(), wbest.data());
    for (size_t r = 0; r < rows; ++r) {
      uint32_t first = 0;
      for (size_t j = 0; j < k; ++j)
        if (cnorm[j] - 2 * dots[r * k + j] < cnorm[first] - 2 * dots[r * k + first] ||
            std::isnan(cnorm[first] - 2 * dots[r * k + first]))
          first = static_cast<uint32_t>(j);
      ASSERT_EQ(want[r], first) << "k " << k << " row " << r;
    }
    for (SimdLevel l : levels()) {
      pq_kernels(l).nearest(dots.data(), rows, k, cnorm.data(), got.data(), gbest.data());
      EXPECT_EQ(want, got) << simd_name(l) << " k " << k;
      EXPECT_EQ(wbest, gbest) << simd_name(l) << " k " << k;
    }
  }
}

TEST(PQ, SaveLoadRoundTrip) {
  const size_t n = 600, d = 16;
  std::vector<float> x = gaussian(n, d, 71);
  for (bool fs : {false, true}) {
    auto a = make_pq(d, 8, fs ? 4 : 8, fs);
    a->train(x.data(), n, Metric::L2, 2);
    ByteWriter w;
    a->save(w);
    auto b = make_pq(d, 8, fs ? 4 : 8, fs);
    ByteReader r(w.buf(), "codec.bin");
    b->load(r);
    EXPECT_TRUE(r.done());
    std::vector<uint8_t> ca(n * a->code_size()), cb(n * a->code_size());
    a->encode(x.data(), n, ca.data());
    b->encode(x.data(), n, cb.data());
    EXPECT_EQ(ca, cb);
    // A codebook of the wrong size is refused with the file named.
    auto other = make_pq(2 * d, 8, 8, false);
    ByteReader r2(w.buf(), "codec.bin");
    try {
      other->load(r2);
      ADD_FAILURE() << "wrong-sized codebooks accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("codec.bin"), std::string::npos);
    }
  }
}

TEST(OPQ, RotationIsOrthogonalAndBeatsPQ) {
  const size_t n = 5000, d = 32, m = 8;
  std::vector<float> x = correlated(n, d, 81);
  auto pq = make_pq(d, m, 8, false);
  pq->train(x.data(), n, Metric::L2, 1);
  double plain = pq_relative_mse(*pq, x, n);

  auto opq = make_opq(d, m);
  EXPECT_EQ(opq->spec(), "opq8");
  opq->train(x.data(), n, 1);
  std::vector<float> xr(n * d), back(n * d);
  opq->apply(x.data(), n, xr.data());
  opq->reverse(xr.data(), n, back.data());
  EXPECT_LT(mse(x, back), 1e-8 * mean_square(x));
  auto pq2 = make_pq(d, m, 8, false);
  pq2->train(xr.data(), n, Metric::L2, 1);
  double rotated = pq_relative_mse(*pq2, xr, n);  // an orthogonal map keeps squared errors
  EXPECT_LT(rotated, 0.9 * plain) << "opq " << rotated << " vs pq " << plain;

  ByteWriter w;
  opq->save(w);
  auto again = make_opq(d, m);
  ByteReader r(w.buf(), "opq.bin");
  again->load(r);
  std::vector<float> xr2(n * d);
  again->apply(x.data(), n, xr2.data());
  EXPECT_EQ(xr, xr2);
  EXPECT_THROW(make_opq(30, 7), Error);
}

namespace {

struct Slice {
  size_t n = 0, nq = 0, d = 0;
  std::vector<float> base, queries;
};

// The first n base rows and nq queries of a shared data set, as float32.
Slice load_slice(const std::string& name, size_t n, size_t nq) {
  Slice s;
  auto load = [&](const std::string& file, size_t rows, std::vector<float>& out) {
    NpyFile f(std::string(PITH_SHARED_DATA) + "/" + name + "/" + file);
    const auto& h = f.header();
    s.d = h.shape.at(1);
    rows = std::min<size_t>(rows, h.shape.at(0));
    out.resize(rows * s.d);
    if (h.dtype == DType::U8)
      for (size_t i = 0; i < out.size(); ++i) out[i] = f.data()[i];
    else
      std::memcpy(out.data(), f.data().data(), out.size() * sizeof(float));
    return rows;
  };
  s.n = load("base.npy", n, s.base);
  s.nq = load("queries.npy", nq, s.queries);
  return s;
}

// recall@10 of the codec (after an optional OPQ rotation) against exact search.
double recall10(const Slice& s, const std::string& opq, VectorCodec& c, Metric metric, size_t opq_m) {
  std::vector<float> base = s.base, queries = s.queries;
  if (!opq.empty()) {
    auto t = make_opq(s.d, opq_m);
    t->train(s.base.data(), s.n, 1);
    t->apply(s.base.data(), s.n, base.data());
    t->apply(s.queries.data(), s.nq, queries.data());
  }
  c.train(base.data(), s.n, metric, 1);
  std::vector<uint8_t> rows(s.n * c.code_size());
  c.encode(base.data(), s.n, rows.data());
  size_t bs = c.block_size();
  std::vector<uint8_t> stored((s.n + bs - 1) / bs * bs * c.code_size());
  c.pack(rows.data(), s.n, stored.data());
  std::vector<float> dist(s.n);
  double hits = 0;
  for (size_t q = 0; q < s.nq; ++q) {
    std::vector<float> exact = exact_dist(s.queries.data() + q * s.d, s.base.data(), s.n, s.d, metric);
    std::vector<size_t> truth = topk(exact.data(), s.n, 10);
    c.scanner(queries.data() + q * s.d, metric)->scan(stored.data(), s.n, dist.data());
    std::vector<size_t> got = topk(dist.data(), s.n, 10);
    for (size_t id : got) hits += std::count(truth.begin(), truth.end(), id);
  }
  return hits / static_cast<double>(s.nq * 10);
}

bool have_data(const std::string& name) {
  return std::filesystem::exists(std::string(PITH_SHARED_DATA) + "/" + name + "/base.npy");
}

}  // namespace

// Floors documented in docs/CODECS.md (10,000 base vectors, 100 queries).
TEST(PQRecall, Sift128Slice) {
  if (!have_data("sift128")) GTEST_SKIP() << "no shared data";
  Slice s = load_slice("sift128", 10000, 100);
  auto pq16 = make_pq(s.d, 16, 8, false);
  EXPECT_GE(recall10(s, "", *pq16, Metric::L2, 0), 0.70);
  auto fs = make_pq(s.d, 64, 4, true);
  EXPECT_GE(recall10(s, "", *fs, Metric::L2, 0), 0.72);
}

TEST(PQRecall, Words300Slice) {
  if (!have_data("words300")) GTEST_SKIP() << "no shared data";
  Slice s = load_slice("words300", 10000, 100);
  auto pq = make_pq(s.d, 30, 8, false);
  EXPECT_GE(recall10(s, "", *pq, Metric::IP, 0), 0.50);
}
