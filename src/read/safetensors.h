#pragma once
// Parser of .safetensors files: 8-byte little-endian header length N, N bytes of
// UTF-8 JSON, then the data area. Validation follows the format's rules: every
// tensor has a known dtype, a shape and data_offsets [begin, end) inside the data
// area with end - begin = dtype size x elements; tensors do not overlap and cover
// the data area exactly (no gaps, nothing after the last one). The JSON may list
// tensors in any order; `tensors` comes back sorted by offset, so the file is the
// header followed by the tensors' bytes in that order.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace pith {

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::U8;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;  // absolute file offsets of the tensor's bytes
};

struct SafetensorsFile {
  uint64_t header_size = 0;  // 8 + N: the bytes before the data area
  std::vector<SafetensorsTensor> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Largest JSON header accepted (the reference implementation's limit).
constexpr uint64_t kSafetensorsMaxHeader = 100u << 20;

// `file` is the whole file; `what` names it in errors.
SafetensorsFile parse_safetensors(std::span<const uint8_t> file, const std::string& what);

// Cheap sniff: a plausible header length followed by '{'.
bool looks_like_safetensors(std::span<const uint8_t> file);

}  // namespace pith
