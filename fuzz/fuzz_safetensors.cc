// The safetensors parser on arbitrary bytes: a result or pith::Error, nothing else.
// A result must describe tensors that lie inside the input and tile its data area.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "read/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = pith::parse_safetensors({data, size}, "fuzz.safetensors");
    uint64_t pos = f.header_size;
    for (const auto& t : f.tensors) {
      if (t.begin != pos || t.end < t.begin || t.end > size) std::abort();
      pos = t.end;
    }
    if (pos != size) std::abort();
  } catch (const pith::Error&) {
  }
  return 0;
}
