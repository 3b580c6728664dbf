// libFuzzer target for decode_chunk: any bytes as params + stored payload of any
// codec must either decode or throw pith::Error, never crash or read out of bounds.
// Input layout: u8 codec, u8 params length p, u32 raw size (taken mod 2^20, so a
// run stays fast yet reaches the 32-lane rANS streams), p bytes params, the rest stored.
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "entropy/chunk_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const auto codec = static_cast<pith::Codec>(data[0] % 4);  // the three known codecs and one unknown
  const size_t plen = data[1];
  uint32_t raw_size;
  std::memcpy(&raw_size, data + 2, 4);
  raw_size &= (1u << 20) - 1;
  data += 6;
  size -= 6;
  if (plen > size) return 0;
  std::span<const uint8_t> params(data, plen), stored(data + plen, size - plen);
  std::vector<uint8_t> out(raw_size);
  try {
    pith::decode_chunk(codec, params, stored, out, "fuzz");
  } catch (const pith::Error&) {
  }
  return 0;
}
