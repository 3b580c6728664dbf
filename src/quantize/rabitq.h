#pragma once
// RaBitQ ("rabitq", 1 bit per dimension) and extended RaBitQ ("rabitqN", N bits
// per dimension, N = 2..8): the residual to a centre, randomly rotated and
// normalised, is snapped to the grid point of best cosine; inner products are
// estimated without bias from the code and two per-vector scalars. The centre
// is the data mean, or with "cK" (e.g. "rabitq2c256") the nearest of K k-means
// centroids, whose number is then stored with each vector (2 bytes).
#include <cstddef>
#include <memory>

#include "quantize/codec.h"

namespace pith {

// bits 1..8, centroids 1..65536
std::unique_ptr<VectorCodec> make_rabitq(size_t dim, int bits, size_t centroids);

}  // namespace pith
