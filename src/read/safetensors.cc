#include "read/safetensors.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace pith {

namespace {

constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxDims = 32;

uint64_t header_length(std::span<const uint8_t> file) {
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  return n;
}

// Rejects nesting deeper than any valid header needs before the JSON parser sees it,
// so hostile input cannot exhaust the stack.
void check_depth(std::string_view s, const std::string& what) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) fail(what, "safetensors header nests deeper than {} levels", kMaxJsonDepth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

uint64_t as_u64(const nlohmann::json& v, const std::string& what, const std::string& tensor, const char* field) {
  if (!v.is_number_unsigned())
    fail(what, "tensor '{}': {} must hold non-negative integers", tensor, field);
  return v.get<uint64_t>();
}

SafetensorsTensor parse_tensor(const std::string& name, const nlohmann::json& j, uint64_t data_size,
                               uint64_t data_start, const std::string& what) {
  if (!j.is_object()) fail(what, "tensor '{}': entry is not a JSON object", name);
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets")
      fail(what, "tensor '{}': unknown field '{}'", name, it.key());
  SafetensorsTensor t;
  t.name = name;
  auto d = j.find("dtype");
  if (d == j.end() || !d->is_string()) fail(what, "tensor '{}': missing dtype", name);
  auto dt = dtype_from_name(d->get<std::string>());
  if (!dt) fail(what, "tensor '{}': unknown dtype '{}'", name, d->get<std::string>());
  t.dtype = *dt;
  auto s = j.find("shape");
  if (s == j.end() || !s->is_array()) fail(what, "tensor '{}': missing shape", name);
  if (s->size() > kMaxDims) fail(what, "tensor '{}': {} dimensions (at most {})", name, s->size(), kMaxDims);
  uint64_t bytes = dtype_size(t.dtype);
  for (const auto& v : *s) {
    uint64_t dim = as_u64(v, what, name, "shape");
    t.shape.push_back(dim);
    if (__builtin_mul_overflow(bytes, dim, &bytes)) fail(what, "tensor '{}': shape overflows 64 bits", name);
  }
  auto o = j.find("data_offsets");
  if (o == j.end() || !o->is_array() || o->size() != 2)
    fail(what, "tensor '{}': data_offsets must be [begin, end]", name);
  uint64_t b = as_u64((*o)[0], what, name, "data_offsets"), e = as_u64((*o)[1], what, name, "data_offsets");
  if (b > e) fail(what, "tensor '{}': data_offsets [{}, {}] end before they begin", name, b, e);
  if (e > data_size)
    fail(what, "tensor '{}': data_offsets [{}, {}] lie outside the data area of {} bytes", name, b, e, data_size);
  if (e - b != bytes)
    fail(what, "tensor '{}': {} with shape of {} elements needs {} bytes, data_offsets [{}, {}] hold {}", name,
         dtype_name(t.dtype), bytes / dtype_size(t.dtype), bytes, b, e, e - b);
  t.begin = data_start + b;
  t.end = data_start + e;
  return t;
}

}  // namespace

bool looks_like_safetensors(std::span<const uint8_t> file) {
  if (file.size() < 10) return false;
  uint64_t n = header_length(file);
  return n >= 2 && n <= file.size() - 8 && file[8] == '{';
}

SafetensorsFile parse_safetensors(std::span<const uint8_t> file, const std::string& what) {
  if (file.size() < 8) fail(what, "truncated: a safetensors file starts with an 8-byte header length");
  const uint64_t n = header_length(file);
  if (n > kSafetensorsMaxHeader)
    fail(what, "safetensors header length {} exceeds the {} MiB limit", n, kSafetensorsMaxHeader >> 20);
  if (n > file.size() - 8) fail(what, "truncated: header length {} but only {} bytes follow", n, file.size() - 8);
  std::string_view text(reinterpret_cast<const char*>(file.data() + 8), n);
  if (text.empty() || text[0] != '{') fail(what, "safetensors header does not start with '{{'");
  check_depth(text, what);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(what, "malformed safetensors JSON header: {}", e.what());
  }
  if (!j.is_object()) fail(what, "safetensors header is not a JSON object");

  SafetensorsFile f;
  f.header_size = 8 + n;
  const uint64_t data_size = file.size() - f.header_size;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail(what, "__metadata__ is not a JSON object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail(what, "__metadata__ value of '{}' is not a string", m.key());
        f.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    f.tensors.push_back(parse_tensor(it.key(), *it, data_size, f.header_size, what));
  }
  std::stable_sort(f.tensors.begin(), f.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = f.header_size;
  const SafetensorsTensor* prev = nullptr;
  for (const auto& t : f.tensors) {
    if (t.begin < pos)
      fail(what, "tensors '{}' and '{}' overlap (data_offsets [{}, {}] and [{}, {}])", prev->name, t.name,
           prev->begin - f.header_size, prev->end - f.header_size, t.begin - f.header_size, t.end - f.header_size);
    if (t.begin > pos)
      fail(what, "gap of {} bytes in the data area before tensor '{}' (data offsets {} to {} belong to no tensor)",
           t.begin - pos, t.name, pos - f.header_size, t.begin - f.header_size);
    prev = &t;
    pos = t.end;
  }
  if (pos != file.size())
    fail(what, "{} bytes after the last tensor belong to no tensor (data area is {} bytes, tensors cover {})",
         file.size() - pos, data_size, pos - f.header_size);
  return f;
}

}  // namespace pith
