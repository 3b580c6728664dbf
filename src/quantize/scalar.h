#pragma once
// Per-dimension codecs: "f16" / "bf16" storage and scalar quantization
// "sq8" / "sq4" / "sq2" with trained per-dimension ranges.
#include <cstddef>
#include <memory>

#include "quantize/codec.h"

namespace pith {

std::unique_ptr<VectorCodec> make_half(size_t dim, bool bf16);
std::unique_ptr<VectorCodec> make_sq(size_t dim, int bits);  // bits ∈ {2, 4, 8}

}  // namespace pith
