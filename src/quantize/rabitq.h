#pragma once
// RaBitQ ("rabitq", 1 bit per dimension) and extended RaBitQ ("rabitqN", N bits
// per dimension, N = 2..8): the residual to the data mean, randomly rotated and
// normalised, is snapped to the grid point of best cosine; inner products are
// estimated without bias from the code and two per-vector scalars.
#include <cstddef>
#include <memory>

#include "quantize/codec.h"

namespace pith {

std::unique_ptr<VectorCodec> make_rabitq(size_t dim, int bits);  // bits 1..8

}  // namespace pith
