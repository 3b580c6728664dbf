#pragma once
// FLOAT_SPLIT (codec 2, docs/FORMAT.md): each float element is cut into byte-sized
// fields (exponent, sign + top mantissa bits, lower mantissa bytes) and every field
// is coded as its own stream (src/entropy/rans.h), because exponents of trained
// weights are highly skewed while mantissas are close to uniform.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace pith {

bool float_split_applies(DType t);  // the float dtypes

// params receives the codec parameters, payload the stored bytes.
// raw.size() must be a multiple of the element size.
void float_split_encode(std::span<const uint8_t> raw, DType t, std::vector<uint8_t>& params,
                        std::vector<uint8_t>& payload);

void float_split_decode(std::span<const uint8_t> params, std::span<const uint8_t> stored,
                        std::span<uint8_t> out, const std::string& what);

}  // namespace pith
