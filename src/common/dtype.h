#pragma once
// Element types of tensors. The numeric codes are part of the .pith format
// (docs/FORMAT.md) and never change.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pith {

enum class DType : uint8_t {
  BOOL = 0, U8 = 1, I8 = 2, U16 = 3, I16 = 4, U32 = 5, I32 = 6, U64 = 7, I64 = 8,
  F16 = 9, BF16 = 10, F32 = 11, F64 = 12, F8_E4M3 = 13, F8_E5M2 = 14,
};
constexpr int kDTypeCount = 15;

struct FloatLayout {  // bit fields of a float type, from the least significant bit
  int mantissa_bits, exponent_bits;  // sign is the single top bit
};

bool dtype_valid(uint8_t code);
size_t dtype_size(DType t);
bool dtype_is_float(DType t);
FloatLayout dtype_float_layout(DType t);  // only for float types
std::string_view dtype_name(DType t);     // safetensors spelling: "F32", "BF16", "BOOL"...
std::optional<DType> dtype_from_name(std::string_view s);
// NumPy descr ("<f4", "|u1", "<f2"...); BF16 and F8 have none (nullopt).
std::optional<std::string> dtype_npy_descr(DType t);
std::optional<DType> dtype_from_npy_descr(std::string_view descr);

}  // namespace pith
