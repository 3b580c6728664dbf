#pragma once
// OPQ: an orthogonal rotation trained jointly with an M-subspace product
// quantizer so that the rotated data quantizes better ("opqM" token). Apply it
// before "pqMx8" / "pqMx4fs" with the same M.
#include <cstddef>
#include <memory>

#include "transform/transform.h"

namespace pith {

// An untrained OPQ rotation (dim_in = dim_out = dim). Throws pith::Error when m
// does not divide dim.
std::unique_ptr<Transform> make_opq(size_t dim, size_t m);

}  // namespace pith
