#include "quantize/codec.h"

#include <cstring>

#include "common/error.h"

namespace pith {

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::IP: return "ip";
    case Metric::COS: return "cos";
    case Metric::L2: return "l2";
  }
  return "?";
}

Metric metric_from_name(const std::string& s) {
  if (s == "ip") return Metric::IP;
  if (s == "cos") return Metric::COS;
  if (s == "l2") return Metric::L2;
  fail_msg("unknown metric '{}': expected ip, cos or l2", s);
}

void VectorCodec::pack(const uint8_t* row_codes, size_t n, uint8_t* stored) const {
  std::memcpy(stored, row_codes, n * code_size());
}

void VectorCodec::unpack(const uint8_t* stored, size_t first, size_t n, uint8_t* row_codes) const {
  std::memcpy(row_codes, stored + first * code_size(), n * code_size());
}

}  // namespace pith
