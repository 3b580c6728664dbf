#include "quantize/kmeans.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include <Eigen/Core>

#include "common/error.h"
#include "common/parallel.h"
#include "quantize/pq_kernels.h"

namespace pith {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat>;

// Rows per assignment block: the block × k dot-product matrix stays in cache and
// blocks are the unit of work handed to threads.
constexpr size_t kBlock = 256;

// Nearest centroid of every point by ||c||² − 2⟨x,c⟩ (||x||² does not change the
// argmin), with the dot products of a block of points computed as one GEMM.
// dist (optional) receives the squared distance to that centroid.
void assign_blocked(const float* x, size_t n, const float* c, size_t k, size_t d, uint32_t* out,
                    float* dist, int threads) {
  std::vector<float> cnorm(k);
  for (size_t j = 0; j < k; ++j) {
    const float* cj = c + j * d;
    float s = 0;
    for (size_t t = 0; t < d; ++t) s += cj[t] * cj[t];
    cnorm[j] = s;
  }
  ConstMap cm(c, static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(d));
  const PqKernels& kernels = pq_kernels();
  size_t nblocks = (n + kBlock - 1) / kBlock;
  parallel_for(nblocks, threads, [&](size_t b) {
    size_t i0 = b * kBlock, rows = std::min(kBlock, n - i0);
    ConstMap xm(x + i0 * d, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(d));
    RowMat dots = xm * cm.transpose();
    float best[kBlock];
    kernels.nearest(dots.data(), rows, k, cnorm.data(), out + i0, best);
    if (!dist) return;
    for (size_t r = 0; r < rows; ++r) {
      const float* xr = x + (i0 + r) * d;
      float xn = 0;
      for (size_t t = 0; t < d; ++t) xn += xr[t] * xr[t];
      dist[i0 + r] = std::max(0.0f, xn + best[r]);
    }
  });
}

float sqdist(const float* a, const float* b, size_t d) {
  float s = 0;
  for (size_t t = 0; t < d; ++t) {
    float e = a[t] - b[t];
    s += e * e;
  }
  return s;
}

// k-means++ seeding costs k passes over the points; that is cheap while the
// sample stays cache resident (all PQ sub-spaces), but for large IVF trainings
// it would cost more than the Lloyd iterations, so those start from k distinct
// random points as FAISS does.
constexpr size_t kPlusPlusMaxFloats = size_t{1} << 20;

std::vector<float> init_centroids(const float* x, size_t n, size_t d, size_t k, std::mt19937_64& rng) {
  std::vector<float> c(k * d);
  if (n * d > kPlusPlusMaxFloats) {
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), size_t{0});
    for (size_t j = 0; j < k; ++j) {
      std::swap(idx[j], idx[j + rng() % (n - j)]);
      std::memcpy(&c[j * d], x + idx[j] * d, d * sizeof(float));
    }
    return c;
  }
  std::vector<float> mind(n);
  size_t first = rng() % n;
  std::memcpy(c.data(), x + first * d, d * sizeof(float));
  for (size_t i = 0; i < n; ++i) mind[i] = sqdist(x + i * d, c.data(), d);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  for (size_t j = 1; j < k; ++j) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += mind[i];
    size_t pick;
    if (total <= 0) {  // fewer distinct points than centroids: any point will do
      pick = rng() % n;
    } else {
      double target = uni(rng) * total, acc = 0;
      pick = n - 1;
      for (size_t i = 0; i < n; ++i) {
        acc += mind[i];
        if (acc > target) {
          pick = i;
          break;
        }
      }
    }
    float* cj = &c[j * d];
    std::memcpy(cj, x + pick * d, d * sizeof(float));
    for (size_t i = 0; i < n; ++i) mind[i] = std::min(mind[i], sqdist(x + i * d, cj, d));
  }
  return c;
}

// Gives every empty cluster half of the currently largest one: both centroids
// move apart by a small relative step so the next assignment separates them.
void split_empty(std::vector<size_t>& count, float* c, size_t k, size_t d) {
  constexpr float kEps = 1.0f / 1024;
  for (size_t j = 0; j < k; ++j) {
    if (count[j] != 0) continue;
    size_t big = static_cast<size_t>(std::max_element(count.begin(), count.end()) - count.begin());
    if (count[big] < 2) return;  // nothing left to split
    float* cb = c + big * d;
    float* cj = c + j * d;
    float mean_abs = 0;
    for (size_t t = 0; t < d; ++t) mean_abs += std::fabs(cb[t]);
    mean_abs = mean_abs / static_cast<float>(d) + std::numeric_limits<float>::min();
    for (size_t t = 0; t < d; ++t) {
      float step = kEps * (std::fabs(cb[t]) + mean_abs);
      cj[t] = cb[t] + step;
      cb[t] -= step;
    }
    count[j] = count[big] / 2;
    count[big] -= count[j];
  }
}

}  // namespace

void assign_nearest(const float* x, size_t n, const float* centroids, size_t k, size_t d, uint32_t* out,
                    int threads) {
  if (k == 0 || d == 0) fail_msg("assign_nearest: needs at least one centroid of at least one dimension");
  assign_blocked(x, n, centroids, k, d, out, nullptr, threads);
}

double kmeans_refine(const float* x, size_t n, size_t d, size_t k, float* c, int iters, int threads) {
  if (n == 0 || k == 0 || d == 0) fail_msg("k-means: needs points, centroids and dimensions (n={}, k={}, d={})", n, k, d);
  std::vector<uint32_t> assign(n);
  std::vector<float> dist(n);
  std::vector<double> sums(k * d);
  std::vector<size_t> count(k);
  double inertia = 0;
  for (int it = 0; it < iters; ++it) {
    assign_blocked(x, n, c, k, d, assign.data(), dist.data(), threads);
    inertia = 0;
    for (size_t i = 0; i < n; ++i) inertia += dist[i];
    inertia /= static_cast<double>(n);
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(count.begin(), count.end(), size_t{0});
    for (size_t i = 0; i < n; ++i) {
      double* s = &sums[assign[i] * d];
      const float* xi = x + i * d;
      for (size_t t = 0; t < d; ++t) s[t] += xi[t];
      ++count[assign[i]];
    }
    for (size_t j = 0; j < k; ++j) {
      if (count[j] == 0) continue;
      double inv = 1.0 / static_cast<double>(count[j]);
      for (size_t t = 0; t < d; ++t) c[j * d + t] = static_cast<float>(sums[j * d + t] * inv);
    }
    split_empty(count, c, k, d);
  }
  return inertia;
}

std::vector<size_t> sample_rows(size_t n, size_t count, std::mt19937_64& rng) {
  std::vector<size_t> rows(n);
  std::iota(rows.begin(), rows.end(), size_t{0});
  for (size_t i = 0; i < count; ++i) std::swap(rows[i], rows[i + rng() % (n - i)]);
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<float> kmeans(const float* x, size_t n, size_t d, size_t k, int iters, uint64_t seed, int threads) {
  if (k == 0 || d == 0) fail_msg("k-means: needs at least one centroid of at least one dimension");
  if (n < k) fail_msg("k-means: {} training vectors for {} centroids; need at least as many vectors as centroids", n, k);
  std::mt19937_64 rng(seed);
  size_t ns = std::min(n, 256 * k);
  std::vector<float> sample;
  const float* xs = x;
  if (ns < n) {
    std::vector<size_t> idx = sample_rows(n, ns, rng);
    sample.resize(ns * d);
    for (size_t i = 0; i < ns; ++i) std::memcpy(&sample[i * d], x + idx[i] * d, d * sizeof(float));
    xs = sample.data();
  }
  std::vector<float> c = init_centroids(xs, ns, d, k, rng);
  if (iters > 0) kmeans_refine(xs, ns, d, k, c.data(), iters, threads);
  return c;
}

}  // namespace pith
