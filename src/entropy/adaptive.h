#pragma once
// Adaptive binary range coder for short symbol streams (FLOAT_SPLIT stream mode 3,
// docs/FORMAT.md): each byte is coded MSB first down a bit tree of adaptive
// probabilities, so a stream of a few hundred symbols pays no frequency table.
// Slow per symbol (8 binary decisions), hence only used for small streams.
#include <cstdint>
#include <span>

#include "common/bytes.h"

namespace pith::adaptive {

// Appends varint byte length + coded bytes.
void encode(std::span<const uint8_t> syms, ByteWriter& w);

// Reads what encode wrote and decodes exactly out.size() symbols; throws
// pith::Error (naming r.what()) when the coded bytes do not end exactly there.
void decode(ByteReader& r, std::span<uint8_t> out);

}  // namespace pith::adaptive
