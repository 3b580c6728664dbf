#pragma once
// The transforms of the factory grammar (OPQ lives in opq.h): random orthogonal
// rotation "rot", principal components "pcaN", Matryoshka prefix "truncN".
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "transform/transform.h"

namespace pith {

std::unique_ptr<Transform> make_rotation(size_t dim);
// Keeps the n leading principal components. Throws when n is 0 or above dim.
std::unique_ptr<Transform> make_pca(size_t dim, size_t n);
// Keeps the first n coordinates (Matryoshka embeddings put the most important
// ones first). Throws when n is 0 or above dim.
std::unique_ptr<Transform> make_trunc(size_t dim, size_t n);

// A d × d random orthogonal matrix (row-major), Haar-distributed: QR of a
// Gaussian matrix with the signs of R's diagonal folded into Q. Depends only on
// d and seed.
std::vector<float> random_orthogonal(size_t d, uint64_t seed);

// y[i] = m · x[i] for n row vectors: m is rows × cols (row-major), x is n × cols,
// y is n × rows.
void apply_matrix(const float* m, size_t rows, size_t cols, const float* x, size_t n, float* y);
// x[i] = mᵀ · y[i]: y is n × rows, x is n × cols.
void apply_matrix_transposed(const float* m, size_t rows, size_t cols, const float* y, size_t n,
                             float* x);

}  // namespace pith
