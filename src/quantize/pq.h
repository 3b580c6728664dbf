#pragma once
// Product quantization: "pqMx8" (M sub-quantizers of 256 centroids, one byte
// each, scanned with an M×256 float lookup table) and "pqMx4fs" (16 centroids,
// half a byte each, stored in blocks of 32 vectors and scanned with uint8 lookup
// tables held in SIMD registers — "fast scan").
#include <cstddef>
#include <memory>

#include "quantize/codec.h"

namespace pith {

// An untrained PQ codec for `dim`-dimensional vectors. nbits is 8 or 4; fastscan
// (the blocked 4-bit layout) requires nbits == 4. Throws pith::Error when m does
// not divide dim or the combination is not supported.
std::unique_ptr<VectorCodec> make_pq(size_t dim, size_t m, int nbits, bool fastscan);

}  // namespace pith
