// The .npy parser on arbitrary bytes: a result or pith::Error, nothing else.
// A result's data must be exactly the bytes after the header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "read/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto h = pith::parse_npy({data, size}, "fuzz.npy");
    if (h.data_offset > size || h.data_size != size - h.data_offset) std::abort();
    if (h.data_size != h.elements() * pith::dtype_size(h.dtype)) std::abort();
  } catch (const pith::Error&) {
  }
  return 0;
}
