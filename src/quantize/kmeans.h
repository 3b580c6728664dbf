#pragma once
// k-means for product quantization codebooks and IVF coarse centroids.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace pith {

// `count` distinct row numbers of [0, n), drawn with `rng` (a partial Fisher-Yates
// shuffle) and sorted so that gathering them reads the data sequentially.
std::vector<size_t> sample_rows(size_t n, size_t count, std::mt19937_64& rng);

// Trains k centroids on n points of d dimensions (row-major) and returns them
// (k × d, row-major). Initialisation is k-means++ on a seeded sample; `iters`
// Lloyd iterations follow. Like FAISS, at most 256·k points are used (a seeded
// random subsample), which bounds training time without hurting quality.
// Empty clusters are repaired by splitting the largest one. `threads` <= 0 uses
// all hardware threads. Requires n >= k >= 1 (throws pith::Error otherwise).
std::vector<float> kmeans(const float* x, size_t n, size_t d, size_t k, int iters, uint64_t seed,
                          int threads);

// Lloyd iterations from the given k × d centroids (updated in place) on all n
// points, without subsampling: for callers that re-train a codebook warm, such as
// OPQ between rotation updates. Returns the mean squared distance of the points
// to their centroids before the last update.
double kmeans_refine(const float* x, size_t n, size_t d, size_t k, float* centroids, int iters,
                     int threads);

// out[i] = index of the centroid nearest (squared L2) to x[i]; ties go to the
// lower index.
void assign_nearest(const float* x, size_t n, const float* centroids, size_t k, size_t d,
                    uint32_t* out, int threads);

}  // namespace pith
