#include "common/dtype.h"

#include <array>

namespace pith {

namespace {
struct Info {
  std::string_view name;
  size_t size;
  bool is_float;
  FloatLayout layout;
  std::string_view npy;  // little-endian descr, empty when NumPy has no such type
};
constexpr std::array<Info, kDTypeCount> kInfo{{
    {"BOOL", 1, false, {0, 0}, "|b1"},
    {"U8", 1, false, {0, 0}, "|u1"},
    {"I8", 1, false, {0, 0}, "|i1"},
    {"U16", 2, false, {0, 0}, "<u2"},
    {"I16", 2, false, {0, 0}, "<i2"},
    {"U32", 4, false, {0, 0}, "<u4"},
    {"I32", 4, false, {0, 0}, "<i4"},
    {"U64", 8, false, {0, 0}, "<u8"},
    {"I64", 8, false, {0, 0}, "<i8"},
    {"F16", 2, true, {10, 5}, "<f2"},
    {"BF16", 2, true, {7, 8}, ""},
    {"F32", 4, true, {23, 8}, "<f4"},
    {"F64", 8, true, {52, 11}, "<f8"},
    {"F8_E4M3", 1, true, {3, 4}, ""},
    {"F8_E5M2", 1, true, {2, 5}, ""},
}};
const Info& info(DType t) { return kInfo[static_cast<size_t>(t)]; }
}  // namespace

bool dtype_valid(uint8_t code) { return code < kDTypeCount; }
size_t dtype_size(DType t) { return info(t).size; }
bool dtype_is_float(DType t) { return info(t).is_float; }
FloatLayout dtype_float_layout(DType t) { return info(t).layout; }
std::string_view dtype_name(DType t) { return info(t).name; }

std::optional<DType> dtype_from_name(std::string_view s) {
  for (size_t i = 0; i < kInfo.size(); ++i)
    if (kInfo[i].name == s) return static_cast<DType>(i);
  return std::nullopt;
}

std::optional<std::string> dtype_npy_descr(DType t) {
  if (info(t).npy.empty()) return std::nullopt;
  return std::string(info(t).npy);
}

std::optional<DType> dtype_from_npy_descr(std::string_view d) {
  // NumPy writes '|' for single bytes and '<' for little-endian; '=' means native (little here).
  if (d.size() < 2) return std::nullopt;
  char order = d[0];
  std::string_view rest = d.substr(1);
  for (size_t i = 0; i < kInfo.size(); ++i) {
    if (kInfo[i].npy.empty()) continue;
    std::string_view want = kInfo[i].npy.substr(1);
    if (rest != want) continue;
    if (kInfo[i].size == 1 ? (order == '|' || order == '<' || order == '=') : (order == '<' || order == '='))
      return static_cast<DType>(i);
  }
  return std::nullopt;
}

}  // namespace pith
